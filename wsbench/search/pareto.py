"""Non-dominated filtering for minimisation problems."""

from __future__ import annotations

import numpy as np


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` that no other row dominates (all objectives minimised).

    Rows with identical objectives are all kept. Two objectives use an O(n log n) sweep.
    """
    F = np.asarray(F, dtype=np.float64)
    n = len(F)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if F.shape[1] == 2:
        order = np.lexsort((F[:, 1], F[:, 0]))
        keep = np.zeros(n, dtype=bool)
        best_f2 = np.inf
        prev = None
        for i in order:
            f = (F[i, 0], F[i, 1])
            if prev is not None and f == prev and keep[prev_i]:
                keep[i] = True
            elif f[1] < best_f2:
                keep[i] = True
            best_f2 = min(best_f2, f[1])
            prev, prev_i = f, i
        return keep
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    keep = np.zeros(n, dtype=bool)
    keep[NonDominatedSorting().do(F, only_non_dominated_front=True)] = True
    return keep
