"""The ``allocate`` optimizer: on a separable problem its Lagrangian decisions are Pareto-optimal,
and it beats random search for the same budget; its helpers' invariants."""

from __future__ import annotations

import numpy as np
import pytest
from wsbench_plugins.optimizers_alloc import grid, hull_slopes, monotone

from wsbench import non_dominated, plugins
from wsbench.errors import ConfigError
from wsbench.search.optimizer import drive
from wsbench.search.problem import CachedProblem

WEIGHTS = np.array([4.0, 1.0, 0.25, 2.0])  # how much each variable's coarseness costs in error
SIZES = np.array([1.0, 8.0, 2.0, 4.0])      # how many weights each variable's step sizes


class Separable(CachedProblem):
    """Four qp-like variables in [0, 6]: a larger value is coarser (smaller, less accurate)."""

    def __init__(self) -> None:
        super().__init__(np.zeros(4), np.full(4, 6.0), np.ones(4, bool))

    def _evaluate_one(self, x):
        return float(np.sum(WEIGHTS * 2.0 ** (x - 6))), float(np.sum(SIZES * (6 - x)))


def exact_front() -> set[tuple]:
    X = np.array(np.meshgrid(*[np.arange(7.0)] * 4, indexing="ij")).reshape(4, -1).T
    p = Separable()
    F = p.evaluate(X)
    return {tuple(F[i]) for i in np.flatnonzero(non_dominated(F))}


def front_of(name: str, budget: int, seed: int = 0, **options) -> np.ndarray:
    p = Separable()
    drive(plugins.create("optimizer", name, **options), p, budget=budget, seed=seed)
    X, F = p.archive_arrays()
    return F[non_dominated(F)]


def hypervolume(F: np.ndarray, ref=(8.0, 100.0)) -> float:
    pts = F[np.argsort(F[:, 0])]
    area, best = 0.0, ref[1]
    for e, s in pts:
        if s < best:
            area += (ref[0] - e) * (best - s)
            best = s
    return area


def supported(front: set[tuple]) -> set[tuple]:
    """The exact front's points on its lower convex hull: what a Lagrangian multiplier reaches."""
    pts = sorted(front, key=lambda f: (f[1], f[0]))  # by size
    hull: list[tuple] = []
    for p in pts:
        while len(hull) >= 2 and ((hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0])
                                  - (hull[-1][0] - hull[-2][0]) * (p[1] - hull[-2][1])) <= 0:
            hull.pop()
        hull.append(p)
    return set(hull)


def test_the_sweep_and_its_multipliers_find_every_supported_point_of_a_separable_front():
    exact = exact_front()
    found = {tuple(f) for f in front_of("allocate", budget=2 + 4 * 6 + 24, refine=False, levels=7)}
    assert len(supported(exact)) >= 8 and supported(exact) <= found


def test_allocate_beats_random_search_for_the_same_budget():
    budget = 60
    ours = hypervolume(front_of("allocate", budget))
    theirs = [hypervolume(front_of("random", budget, seed=s)) for s in range(3)]
    assert ours > max(theirs)


def test_helpers():
    assert list(grid(-30, -16, 3)) == [-30, -23, -16] and list(grid(0, 2, 8)) == [0, 1, 2]
    # sizes fine -> coarse: 10, 6, 3, 1; a noisy dip at size 3 is lifted to its finer neighbour
    assert list(monotone(np.array([10.0, 6, 3, 1]), np.array([0.0, 0.2, 0.1, 0.5]))) == [0, .2, .2, .5]
    # hull of (0,4) (1,1) (2,0.5) (3,0.4): the slopes 3, 0.5, 0.1 in that order
    assert np.allclose(hull_slopes(np.array([0.0, 1, 2, 3]), np.array([4.0, 1, 0.5, 0.4])), [3, .5, .1])
    # a point above the hull is skipped: (1, 3.5) lies above the segment (0,4)-(2,0.5)... not hull
    assert np.allclose(hull_slopes(np.array([0.0, 1, 2]), np.array([4.0, 3.5, 0.5])), [1.75])


def test_options_are_checked():
    with pytest.raises(ConfigError, match="levels"):
        plugins.create("optimizer", "allocate", levels=1)
    with pytest.raises(ConfigError, match="lambdas"):
        plugins.create("optimizer", "allocate", lambdas=0)


class Interacting(Separable):
    """Errors that do not add: coarsening several variables at once costs more than the sum of
    coarsening each alone (a product, as errors compound through a deep net)."""

    def _evaluate_one(self, x):
        alone = WEIGHTS * 2.0 ** (x - 6)
        return float(np.prod(1.0 + alone) - 1.0), float(np.sum(SIZES * (6 - x)))


def _front(problem, budget, **options) -> tuple[np.ndarray, np.ndarray]:
    drive(plugins.create("optimizer", "allocate", **options), problem, budget=budget, seed=0)
    X, F = problem.archive_arrays()
    keep = non_dominated(F)
    return X[keep], F[keep]


def test_diagonal_starts_from_one_value_for_all_and_refines_past_it():
    p = Interacting()
    X, F = _front(p, budget=40, levels=2, diagonal=True)
    A, _ = p.archive_arrays()
    # the first seven evaluations are the diagonal, every value of the (0..6) grid for all
    assert [tuple(a) for a in A[:7]] == [(v,) * 4 for v in range(7)]
    diag = p.evaluate(np.repeat(np.arange(7.0)[:, None], 4, axis=1))
    # refinement found mixed decisions (one value per variable) that dominate a diagonal one
    mixed = [f for x, f in zip(X, F) if np.ptp(x) > 0]
    assert mixed and any(np.all(f <= d) and np.any(f < d) for f in mixed for d in diag)


def test_within_refines_only_near_the_best_error_the_coarsest_first():
    p = Interacting()
    _front(p, budget=7 + 8, levels=2, diagonal=True, within=0.5)
    A, F = p.archive_arrays()
    first = A[7:]  # the one refinement step the budget leaves: a single point's neighbours
    diag_err = {v: F[v][0] for v in range(7)}
    ok = [v for v in range(7) if diag_err[v] <= min(diag_err.values()) + 0.5]
    centre = (max(ok),) * 4  # the coarsest diagonal point within 0.5 of the best error
    assert all(np.abs(row - np.array(centre)).sum() == 1 for row in first) and len(first) >= 4


def test_diagonal_needs_one_range_and_within_a_fraction():
    class Ragged(CachedProblem):
        def __init__(self):
            super().__init__(np.zeros(2), np.array([6.0, 3.0]), np.ones(2, bool))

        def _evaluate_one(self, x):
            return float(x.sum()), float(-x.sum())

    assert "same range" in plugins.create("optimizer", "allocate", diagonal=True).check(Ragged())
    with pytest.raises(ConfigError):
        plugins.create("optimizer", "allocate", within=2.0)
