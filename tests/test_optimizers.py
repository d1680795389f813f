"""What each optimizer adds beyond the contract: NSGA-III's directions, the centre-based step and
initialisation, CMA-ES/PSO's scalarisations and pitfalls, random search, exhaustive's refusal."""

from __future__ import annotations

import numpy as np
import pytest
from wsbench_plugins.optimizers_single import UnitEncoding, box_chebyshev, d_max, gap_boxes, next_box

from wsbench import plugins
from wsbench.errors import ConfigError, PluginError
from wsbench.search.optimizer import drive
from wsbench.search.problem import CachedProblem


class Problem(CachedProblem):
    """Synthetic problem: ``f(x) -> (f1, f2)`` on given bounds, counting nothing but calls."""

    def __init__(self, f, xl=(2.0,), xu=(1024.0,), integer=(True,)) -> None:
        super().__init__(np.array(xl, float), np.array(xu, float), np.array(integer, bool))
        self.f = f

    def _evaluate_one(self, x):
        return self.f(x)


def smooth(x):
    """Every K is Pareto-optimal: accuracy improves with K, d = K."""
    return 0.02 + 0.98 * np.exp(-x[0] / 40.0), float(x[0])


def test_nsga3_uses_das_dennis_directions_and_pop_size():
    opt = plugins.create("optimizer", "nsga3", pop_size=24)
    p = Problem(smooth)
    opt.setup(p, 0, 100)
    assert opt.algorithm.ref_dirs.shape == (24, 2)
    np.testing.assert_allclose(opt.algorithm.ref_dirs.sum(axis=1), 1.0)
    assert len(opt.ask()) <= 24
    assert plugins.create("optimizer", "nsga3").pop_size == 100
    with pytest.raises(ConfigError, match="n_partitions"):
        plugins.create("optimizer", "nsga3", n_partitions=0)


def test_centre_initialisation_concentrates_near_the_centre():
    def initial(name, **options):
        opt = plugins.create("optimizer", name, **options)
        opt.setup(Problem(smooth), 3, 1000)
        return opt.ask()[:, 0]

    centre = 513.0
    random, centred = initial("nsga2"), initial("cb-init-nsga2")
    assert np.mean(np.abs(centred - centre)) < 0.7 * np.mean(np.abs(random - centre))
    assert np.all(centred == np.rint(centred))
    linear = np.sort(initial("nsga2", init="linear"))
    assert linear[0] == 2 and linear[-1] == 1024 and np.ptp(np.diff(linear)) <= 1
    with pytest.raises(ConfigError, match="init must be one of"):
        plugins.create("optimizer", "nsga2", init="sobol")


def test_cb_nsga2_asks_rank_block_centroids_that_replace_the_worst():
    """Recomputes the step here: sort by (rank, -crowding), 4 blocks, rounded means, no duplicates."""
    p = Problem(lambda x: (0.02 + 0.98 * np.exp(-x[0] / 40) + 0.01 * np.sin(x[0]), float(x[0])))
    opt = plugins.create("optimizer", "cb-nsga2", pop_size=20, n_clusters=4)
    opt.setup(p, 5, 10_000)
    X = opt.ask()
    opt.tell(p.repair(X), p.evaluate(X))
    seen_centroids = 0
    for _ in range(5):
        algo = opt.algorithm
        pop_x = algo.pop.get("X")[:, 0].astype(float)
        rank, crowding = algo.pop.get("rank"), algo.pop.get("crowding")
        keys = sorted(range(len(pop_x)), key=lambda i: (rank[i], -crowding[i]))
        blocks = np.array_split(np.array(keys), 4)
        expected = [float(np.rint(pop_x[b].mean())) for b in blocks if len(b)]
        X = opt.ask()
        n = algo.n_centroids
        off = X[:len(X) - n, 0]
        kept = []
        for c in expected:
            if c not in pop_x and c not in off and c not in kept:
                kept.append(c)
        assert list(X[len(X) - n:, 0]) == kept
        seen_centroids += n
        worst = set(pop_x[keys[len(keys) - n:]]) if n else set()
        opt.tell(p.repair(X), p.evaluate(X))
        new_x = set(algo.pop.get("X")[:, 0].astype(float))
        assert len(algo.pop) == 20
        assert new_x <= set(pop_x) | set(X[:, 0])
        assert not (new_x & (worst - set(X[:, 0]))), "a replaced worst member survived"
    assert seen_centroids > 0
    with pytest.raises(ConfigError, match="n_clusters"):
        plugins.create("optimizer", "cb-nsga2", pop_size=10, n_clusters=11)


@pytest.mark.parametrize("pop_size,expected", [(100, 10), (20, 2), (16, 2), (5, 1), (2, 1)])
def test_cb_nsga2_default_clusters_follow_the_published_ratio(pop_size, expected):
    """NC/NP = 10/100 as published: at population 20 two centroids, not half the population."""
    assert plugins.create("optimizer", "cb-nsga2", pop_size=pop_size).n_clusters == expected


def test_box_chebyshev_on_the_fixed_normalisation():
    p = Problem(smooth)
    assert d_max(p) == 1024
    opt = plugins.create("optimizer", "cmaes")
    opt.setup(p, 0, 100)
    assert opt.runs[0]["box"] == ((0.0, 0.0), (1.0, 1.0))  # nothing known: the whole unit box
    F = np.array([[0.1, 512.0], [0.5, 2.0]])
    first = opt.scalarise(F)
    z2 = np.log2(F[:, 1]) / 10  # log2(d) / log2(1024): the indicators' default scale
    np.testing.assert_allclose(first, np.maximum(F[:, 0], z2) + 1e-3 * (F[:, 0] + z2))
    box = ((0.1, 0.2), (0.5, 0.9))
    R = (np.column_stack([F[:, 0], z2]) - [0.1, 0.2]) / [0.4, 0.7]
    np.testing.assert_allclose(box_chebyshev(np.column_stack([F[:, 0], z2]), box, 0.01),
                               R.max(axis=1) + 0.01 * R.sum(axis=1))
    drive(opt, p, budget=60, seed=0)  # what was seen since must not change the scale
    opt.runs[-1]["box"] = ((0.0, 0.0), (1.0, 1.0))
    np.testing.assert_allclose(opt.scalarise(F), first)
    linear = plugins.create("optimizer", "pso", d_scale="linear")
    linear.setup(p, 0, 100)
    np.testing.assert_allclose(linear.scalarise(F), np.maximum(F[:, 0], F[:, 1] / 1024)
                               + 1e-3 * (F[:, 0] + F[:, 1] / 1024))
    with pytest.raises(ConfigError, match="d_scale"):
        plugins.create("optimizer", "cmaes", d_scale="sqrt")


# An L-shaped front like the digits CNN's (d, 1 - F1): a steep leg at small d and an accurate
# leg (d = 14-73) whose points differ in f1 by less than 0.01. Fixed Chebyshev weights
# w1 = 0.9 ... 0.1 had their optima at d = 11, 9, 8, 7, 2 on it: none on the accurate leg.
L_FRONT = [(2, 0.98), (3, 0.84), (6, 0.68), (7, 0.43), (8, 0.25), (9, 0.12), (10, 0.048),
           (11, 0.022), (14, 0.014), (23, 0.0112), (27, 0.0111), (73, 0.0084)]


def l_front_objectives():
    """Every K in [2, 1024] with d = K: the front above, everything else dominated by it."""
    best = dict(L_FRONT)
    F = [(best[k] if k in best else min(v for d, v in L_FRONT if d <= k) + 0.001, float(k))
         for k in range(2, 1025)]
    return np.array(F)


def test_box_scalarisations_cover_the_whole_l_shaped_front():
    """Solving each chosen scalarisation exactly finds every front point, the accurate leg too."""
    from wsbench.experiments.indicators import Reference

    F = l_front_objectives()
    Z = Reference().normalise(F)
    found, tried, targeted = np.zeros((0, 2)), set(), []
    for _ in range(3 * len(L_FRONT)):
        box = next_box(found, tried)
        tried.add(box)
        best = int(np.argmin(box_chebyshev(Z, box, 1e-3)))
        targeted.append(int(F[best, 1]))
        found = np.vstack([found, Z[best]])
    assert {d for d, _ in L_FRONT} <= set(targeted)
    # the old fixed weights' optima, for contrast: the accurate leg was never aimed at
    old = [int(F[np.argmin(np.max([w, 1 - w] * Z, axis=1) + 1e-3 * Z.sum(axis=1)), 1])
           for w in (0.9, 0.7, 0.5, 0.3, 0.1)]
    assert max(old) < 14


def test_gap_boxes_lie_between_neighbours_largest_first():
    boxes = gap_boxes(np.array([[0.5, 0.2], [0.1, 0.6], [0.7, 0.9]]))  # the last is dominated
    assert boxes[0] == ((0.5, 0.0), (1.0, 0.2)) or boxes[0] == ((0.1, 0.2), (0.5, 0.6))
    assert set(boxes) == {((0.5, 0.0), (1.0, 0.2)), ((0.1, 0.2), (0.5, 0.6)), ((0.0, 0.6), (0.1, 1.0))}
    areas = [(u[0] - c[0]) * (u[1] - c[1]) for c, u in boxes]
    assert areas == sorted(areas, reverse=True)


@pytest.mark.parametrize("name", ["cmaes", "pso"])
def test_scalarised_optimizers_reach_the_accurate_leg(name):
    """On the L-shaped front, the single-objective searches find its accurate end (d >= 14)."""
    F = l_front_objectives()
    p = Problem(lambda x: tuple(F[int(x[0]) - 2]))
    drive(plugins.create("optimizer", name), p, budget=150, seed=0, max_requested=4000)
    K = p.archive_arrays()[0][:, 0]
    front_k = {d for d, _ in L_FRONT}
    assert {k for k in K if k in front_k and k >= 14}, "no point of the accurate leg found"
    assert len(front_k & set(K.astype(int))) >= len(front_k) - 3


def test_unit_encoding_puts_k_on_a_log_scale():
    enc = UnitEncoding(np.array([2.0, 0.0]), np.array([1024.0, 0.05]), np.array([True, False]))
    X = enc.decode(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [-3.0, 7.0]]))
    np.testing.assert_allclose(X, [[2, 0], [1024, 0.05], [np.rint(2 ** 5.5), 0.025], [2, 0.05]])


@pytest.mark.parametrize("name", ["cmaes", "pso"])
def test_scalarised_optimizers_spend_the_budget_on_a_1d_k(name):
    """1-D K used to crash (integer_variables) or stall on plateaus; the budget must be spent."""
    p = Problem(smooth)
    opt = plugins.create("optimizer", name, n_weights=4)
    drive(opt, p, budget=200, seed=1)
    assert p.unique == 200
    assert len({r["box"] for r in opt.runs[:4]}) == 4  # four different gaps searched
    assert all(r["used"] >= 1 for r in opt.runs[:4])
    K = p.archive_arrays()[0][:, 0]
    assert K.min() < 40 and K.max() > 200  # the scalarisations reach both ends


def test_cmaes_adds_a_dummy_dimension_in_1d_and_never_uses_integer_variables():
    opt = plugins.create("optimizer", "cmaes")
    opt.setup(Problem(smooth), 0, 50)
    assert opt.es.N == 2
    assert not opt.es.opts.get("integer_variables")
    opt.setup(Problem(smooth, (2.0, 0.0, 0.95), (1024.0, 0.05, 1.0), (True, False, False)), 0, 50)
    assert opt.es.N == 3


def test_pso_refuses_periodic_bounds_and_stops_at_the_edge():
    with pytest.raises(ConfigError, match="periodic"):
        plugins.create("optimizer", "pso", bh_strategy="periodic")
    # the best decision is at the upper bound: a periodic swarm would wrap round to K = 2
    for strategy in ("nearest", "reflective"):
        p = Problem(lambda x: (1.0 - x[0] / 1024, 1.0))
        opt = plugins.create("optimizer", "pso", n_weights=1, bh_strategy=strategy)
        drive(opt, p, budget=60, seed=1)
        assert 0 <= opt.swarm.position.min() and opt.swarm.position.max() <= 1
        K = np.array([e.x[0] for e in p.archive])
        assert K.max() >= 990 and np.median(K[-20:]) > np.median(K[:20])
        if strategy == "nearest":
            assert K.max() == 1024


def test_random_search_is_uniform_over_integers():
    p = Problem(smooth, (2.0,), (11.0,))
    drive(plugins.create("optimizer", "random"), p, budget=10, seed=0, max_requested=1000)
    assert p.unique == 10  # every value of K = 2..11 drawn
    with pytest.raises(ConfigError, match="batch_size"):
        plugins.create("optimizer", "random", batch_size=0)


def test_exhaustive_refuses_a_huge_space_with_the_reason():
    n = 12
    p = Problem(smooth, (2.0,) * n, (256.0,) * n, (True,) * n)
    assert "more than max_points" in plugins.create("optimizer", "exhaustive").check(p)
    with pytest.raises(ConfigError, match="cannot run here.*points"):
        drive(plugins.create("optimizer", "exhaustive"), p, budget=10)


@pytest.mark.parametrize("name,option", [("cmaes", {"sigma0": 0}), ("cmaes", {"n_weights": 0}),
                                         ("pso", {"n_particles": 1}), ("pso", {"v_max": 2}),
                                         ("cmaes", {"no_such": 1})])
def test_bad_options_are_one_clear_error(name, option):
    with pytest.raises((ConfigError, PluginError)):
        plugins.create("optimizer", name, **option)
