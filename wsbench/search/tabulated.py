"""A search space's tabulated landscape as a problem: every evaluation is a table look-up.

Where the fitness is deterministic (space ``k``: one decision, one validation pass) and the
exhaustive landscape has been computed once (``wsbench run --exact-only``, or
``benchmarks/tabulate_landscapes.py`` with every decision's predictions), an optimizer can be
replayed on the table through the suite's own driver: the same decisions, the same objectives
and the same budget accounting as a live run, in milliseconds instead of hours. With the
predictions, margin estimates are replayed too (:class:`LandscapeProblem`). What a replay
cannot give is what happens after the search (merging, re-scoring on test): it measures the
search alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from wsbench.errors import ConfigError
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


@dataclass(frozen=True)
class Landscape:
    """A tabulated landscape with each decision's predictions on the search split, the trained
    model's predictions and margins, and the labels: what a margin estimate is computed from."""

    X: np.ndarray
    F: np.ndarray
    pred: np.ndarray      # (decisions, rows, ...) predicted classes
    trained: np.ndarray   # (rows, ...)
    margin: np.ndarray    # (rows,) the trained margin that ranks rows for estimates
    labels: np.ndarray
    metric: str
    num_classes: int

    @classmethod
    def load(cls, path: str | Path) -> "Landscape":
        try:
            with np.load(path) as t:
                return cls(t["X"], t["F"], t["pred"], t["trained"], t["margin"], t["labels"],
                           str(t["metric"]), int(t["num_classes"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable landscape table ({exc})") from None

    def table(self) -> dict[tuple[float, ...], tuple[float, ...]]:
        return {tuple(map(float, x)): tuple(map(float, f)) for x, f in zip(self.X, self.F)}


class LandscapeProblem(TabulatedProblem):
    """A tabulated problem that also offers margin estimates, computed as the fitness harness
    computes them (:mod:`wsbench.search.estimate`) and charged the same share of an evaluation."""

    def __init__(self, landscape: Landscape) -> None:
        super().__init__(landscape.table())
        self.land = landscape
        self.row = {tuple(map(float, x)): i for i, x in enumerate(landscape.X)}
        self.subsets: dict[float, tuple[np.ndarray, float]] = {}
        self.values: dict[tuple[float, tuple], tuple[float, float]] = {}

    def reset(self) -> None:
        super().reset()
        self.values.clear()

    def _subset(self, share: float) -> tuple[np.ndarray, float]:
        if share not in self.subsets:
            n = max(1, int(round(share * len(self.land.labels))))
            rows = np.sort(np.argsort(self.land.margin, kind="stable")[:n])
            self.subsets[share] = (rows, n / len(self.land.labels))
        return self.subsets[share]

    def _score(self, i: int, rows: np.ndarray) -> tuple[float, float]:
        import torch

        from wsbench.search.metrics import get_metric

        pred = self.land.trained.copy()
        pred[rows] = self.land.pred[i][rows]
        moved = float((pred[rows] != self.land.trained[rows]).mean())
        score = get_metric(self.land.metric)(torch.from_numpy(pred.astype(np.int64)),
                                             torch.from_numpy(self.land.labels.astype(np.int64)),
                                             self.land.num_classes)
        return float(score), moved

    def estimate(self, X: np.ndarray, share: float = 0.1) -> np.ndarray:
        """Rows (1 - estimated metric, size, moved share); a decision neither estimated under
        ``share`` nor evaluated in full before is charged the subset's share."""
        if not (isinstance(share, (int, float)) and 0 < share <= 1):
            raise ConfigError(f"estimate share must be a number in (0, 1], got {share!r}")
        rows, cost = self._subset(float(share))
        X = self.repair(X)
        out = np.empty((len(X), 3))
        for j, x in enumerate(X):
            key = tuple(float(v) for v in x)
            if (share, key) not in self.values:
                if self._key(x) not in self.cache:
                    self.charge(cost)
                self.values[share, key] = self._score(self.row[key], rows)
            score, moved = self.values[share, key]
            out[j] = (1.0 - score, self.table[key][1], moved)
        return out
