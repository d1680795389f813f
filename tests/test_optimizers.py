"""What each optimizer adds beyond the contract: NSGA-III's directions, the centre-based step and
initialisation, CMA-ES/PSO's scalarisations and pitfalls, random search, exhaustive's refusal."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench import plugins
from wsbench.errors import ConfigError, PluginError
from wsbench.optimizer import drive
from wsbench.problem import CachedProblem
from wsbench_plugins.optimizers_single import UnitEncoding, chebyshev_weights, d_max


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


def test_chebyshev_weights_and_fixed_normalisation():
    w = chebyshev_weights(5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w[:, 0], [0.9, 0.7, 0.5, 0.3, 0.1])
    p = Problem(smooth)
    assert d_max(p) == 1024
    opt = plugins.create("optimizer", "cmaes")
    opt.setup(p, 0, 100)
    F = np.array([[0.1, 512.0], [0.5, 2.0]])
    first = opt.scalarise(F)
    drive(opt, p, budget=60, seed=0)  # what was seen since must not change the scale
    opt.runs[-1]["weight"] = opt.weights[0]
    np.testing.assert_allclose(opt.scalarise(F), first)
    z2 = np.log2(F[:, 1]) / 10  # log2(d) / log2(1024): the indicators' default scale
    np.testing.assert_allclose(first, np.maximum(0.9 * F[:, 0], 0.1 * z2) + 1e-3 * (F[:, 0] + z2))
    linear = plugins.create("optimizer", "pso", d_scale="linear")
    linear.setup(p, 0, 100)
    np.testing.assert_allclose(linear.scalarise(F), np.maximum(0.9 * F[:, 0], 0.1 * F[:, 1] / 1024)
                               + 1e-3 * (F[:, 0] + F[:, 1] / 1024))
    with pytest.raises(ConfigError, match="d_scale"):
        plugins.create("optimizer", "cmaes", d_scale="sqrt")


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
    assert [tuple(r["weight"]) for r in opt.runs[:4]] == [tuple(w) for w in chebyshev_weights(4)]
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
