"""Box Chebyshev scalarisations: where a single-objective sub-search should look next.

Fixed Chebyshev weights miss the flat accurate leg of an L-shaped front (on digits, weights
0.9 ... 0.1 had their optima at d = 11, 9, 8, 7, 2, none at d = 14-73). A box between two
neighbours of the front found so far, searched largest first, covers every part of it
(see the module docstring of ``optimizers_single``).
"""

from __future__ import annotations

import numpy as np

Box = tuple[tuple[float, float], tuple[float, float]]  # (corner c, upper corner u) in z


def gap_boxes(Z: np.ndarray, ref: tuple[float, float] = (1.0, 1.0)) -> list[Box]:
    """The boxes between neighbours of the non-dominated set of ``Z`` (normalised, minimised),
    the virtual anchors (ref1, 0) and (0, ref2) included, largest area first; empty ones left out."""
    from wsbench.search.pareto import non_dominated

    Z = np.minimum(np.asarray(Z, dtype=np.float64).reshape(-1, 2), ref)
    P = np.unique(Z[non_dominated(Z)], axis=0) if len(Z) else Z
    P = P[np.argsort(P[:, 1], kind="stable")]
    chain = [(ref[0], 0.0)] + [tuple(p) for p in P] + [(0.0, ref[1])]
    boxes = []
    for a, b in zip(chain[:-1], chain[1:]):
        c, u = (float(b[0]), float(a[1])), (float(a[0]), float(b[1]))
        if u[0] > c[0] and u[1] > c[1]:
            boxes.append((c, u))
    return sorted(boxes, key=lambda box: -(box[1][0] - box[0][0]) * (box[1][1] - box[0][1]))


def next_box(Z: np.ndarray, tried: set, ref: tuple[float, float] = (1.0, 1.0)) -> Box:
    """The largest gap of the front not searched yet; when every gap was, the whole unit box
    again (``tried`` is cleared: a fresh seed may find what the first search missed)."""
    for box in gap_boxes(Z, ref):
        if box not in tried:
            return box
    tried.clear()
    return (0.0, 0.0), (float(ref[0]), float(ref[1]))


def box_chebyshev(Z: np.ndarray, box: Box, rho: float) -> np.ndarray:
    """Augmented Chebyshev relative to a box: below 1 inside it, 1 at its two front points."""
    c, u = np.asarray(box[0]), np.asarray(box[1])
    R = (np.asarray(Z, dtype=np.float64) - c) / np.maximum(u - c, 1e-12)
    return np.max(R, axis=1) + rho * R.sum(axis=1)
