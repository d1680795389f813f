"""A search space's tabulated landscape as a problem: every evaluation is a table look-up.

Where the fitness is deterministic (space ``k``: one decision, one validation pass) and the
exhaustive landscape has been computed once (``wsbench run --exact-only``), an optimizer can be
replayed on the table through the suite's own driver: the same decisions, the same objectives
and the same budget accounting as a live run, in milliseconds instead of hours. What a replay
cannot give is what happens after the search (merging, re-scoring on test): it measures the
search alone.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from wsbench.search.problem import CachedProblem


class TabulatedProblem(CachedProblem):
    """The decisions of ``table`` (decision -> objectives), all integer, bounds from the table."""

    def __init__(self, table: Mapping[tuple[float, ...], Sequence[float]]) -> None:
        if not table:
            raise ValueError("an empty landscape has nothing to search")
        X = np.array(list(table), dtype=np.float64)
        super().__init__(X.min(0), X.max(0), np.ones(X.shape[1], dtype=bool))
        self.table = {tuple(map(float, x)): tuple(map(float, f)) for x, f in table.items()}
        if len(self.table) != self.space_size:
            raise ValueError(f"the table holds {len(self.table)} of the {self.space_size:.0f} "
                             f"decisions within its bounds: not an exhaustive landscape")

    def _evaluate_one(self, x: np.ndarray) -> tuple[float, ...]:
        return self.table[tuple(float(v) for v in x)]
