"""What frontier and the Optuna/BoTorch bridges add beyond the contract (issue 16), and the
anytime views of the report."""

from __future__ import annotations

import numpy as np
import pytest
from test_optimizers import L_FRONT, Problem, l_front_objectives
from wsbench_plugins import optimizers_bridges as bridges
from wsbench_plugins.optimizers_frontier import hv_gain

from wsbench import plugins
from wsbench.errors import ConfigError
from wsbench.experiments.indicators import Reference, hv2d
from wsbench.report.anytime import ecdf, fixed_budget_gaps, runtimes
from wsbench.search.optimizer import drive

needs_optuna = pytest.mark.skipif(bridges.missing("optuna") is not None,
                                  reason="optuna is not installed (optional extra 'search')")
needs_botorch = pytest.mark.skipif(bridges.missing("botorch") is not None,
                                   reason="botorch is not installed (optional extra 'search')")


def l_problem() -> Problem:
    F = l_front_objectives()
    return Problem(lambda x: tuple(F[int(x[0]) - 2]))


def test_hv_gain_is_the_hypervolume_a_point_adds():
    rng = np.random.default_rng(0)
    for _ in range(20):
        Z = rng.random((6, 2))
        from wsbench.search.pareto import non_dominated

        front = Z[non_dominated(Z)]
        pts = rng.random((5, 2)) * 1.1
        expected = [hv2d(np.vstack([front, p]), (1.0, 1.0)) - hv2d(front, (1.0, 1.0)) for p in pts]
        np.testing.assert_allclose(hv_gain(front, pts), expected, atol=1e-12)
    assert hv_gain(np.zeros((0, 2)), np.array([[0.5, 0.5]]))[0] == pytest.approx(0.25)


def test_frontier_finds_the_steep_leg_of_the_l_shaped_front_first():
    """In 20 evaluations: every front point with d <= 14 and 99% of the front's HV; no repeats."""
    p = l_problem()
    drive(plugins.create("optimizer", "frontier"), p, budget=20, seed=0)
    X, F = p.archive_arrays()
    assert {d for d, _ in L_FRONT if d <= 14} <= set(X[:, 0].astype(int))
    ref = Reference()
    exact = hv2d(ref.normalise(np.array([(f, d) for d, f in L_FRONT])), (1.0, 1.0))
    assert hv2d(ref.normalise(F), (1.0, 1.0)) >= 0.99 * exact
    assert p.requested == p.unique  # it never asks for a decision it has seen


def test_frontier_beats_random_search_on_a_layerwise_space():
    """Three integer K (a layer-wise space): a higher HV than random search at the same budget."""
    def f(x):
        err = sum(np.exp(-k / w) for k, w in zip(x, (3.0, 8.0, 20.0)))
        return 0.02 + err / 3, float(np.sum(x))

    ref = Reference(d_max=3 * 256)
    hv = {}
    for name in ("frontier", "random"):
        p = Problem(f, (2.0,) * 3, (256.0,) * 3, (True,) * 3)
        drive(plugins.create("optimizer", name, batch_size=10), p, budget=40, seed=1)
        F = p.archive_arrays()[1]
        hv[name] = hv2d(ref.normalise(F), (1.0, 1.0))
    assert hv["frontier"] > hv["random"]


@pytest.mark.parametrize("option", [{"n_init": 1}, {"batch_size": 0}, {"bandwidth": 0},
                                    {"jitter": 1.0}, {"n_candidates": 0}])
def test_frontier_bad_options_are_one_clear_error(option):
    with pytest.raises(ConfigError):
        plugins.create("optimizer", "frontier", **option)


def test_a_missing_extra_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(bridges, "missing", lambda module: f"needs {module}; {bridges.INSTALL_HINT}")
    for name in ("optuna", "botorch"):
        with pytest.raises(ConfigError, match=r"cannot run here: needs .*pip install -e '\.\[search\]'"):
            drive(plugins.create("optimizer", name), Problem(lambda x: (0.5, x[0])), budget=5)


def test_optuna_refuses_an_unknown_or_single_objective_sampler():
    for sampler in ("NoSuchSampler", "CmaEsSampler"):
        with pytest.raises(ConfigError, match="sampler must be one of"):
            plugins.create("optimizer", "optuna", sampler=sampler)


@needs_optuna
def test_optuna_puts_k_on_a_log_scale():
    """RandomSampler draws K log-uniformly (median near sqrt(2 * 1024) = 45), or uniformly."""
    medians = {}
    for log_k in (True, False):
        p = Problem(lambda x: (1 / x[0], x[0]))
        opt = plugins.create("optimizer", "optuna", sampler="RandomSampler", batch_size=20, log_k=log_k)
        drive(opt, p, budget=60, seed=0)
        medians[log_k] = np.median(p.archive_arrays()[0][:, 0])
    assert medians[True] < 150 < 300 < medians[False]


@needs_optuna
def test_optuna_is_told_the_fixed_normalisation():
    p = Problem(lambda x: (1 / x[0], x[0]))
    opt = plugins.create("optimizer", "optuna", sampler="TPESampler", batch_size=4)
    drive(opt, p, budget=8, seed=0)
    told = np.array([t.values for t in opt.study.trials if t.values is not None])
    X, F = p.archive_arrays()
    np.testing.assert_allclose(np.sort(told, axis=0), np.sort(Reference().normalise(F), axis=0))
    with pytest.raises(ConfigError, match="bad sampler_options"):
        opt = plugins.create("optimizer", "optuna", sampler_options={"no_such": 1})
        drive(opt, Problem(lambda x: (0.5, x[0])), budget=2)


@needs_botorch
def test_botorch_asks_its_batch_of_unevaluated_decisions():
    p = l_problem()
    opt = plugins.create("optimizer", "botorch", batch_size=3, n_init=4, mc_samples=8, max_choices=64)
    asked = []
    opt.setup(p, 0, 13)
    while p.unique < 13:
        X = opt.ask()
        asked.append(X)
        opt.tell(p.repair(X), p.evaluate(X))
    assert [len(X) for X in asked] == [4, 3, 3, 3]
    assert p.unique == p.requested == 13  # a small space: only decisions not yet evaluated


def test_anytime_views_count_targets_and_budgets():
    class T:  # a trial result: only its anytime HV curve is read
        def __init__(self, curve):
            self.curve = np.asarray(curve, dtype=float)

    trials = [T([0.2, 0.5, 0.9, 1.0]), T([0.1, 0.1, 0.3])]
    targets = np.array([0.5, 1.0])
    R = runtimes(trials, 1.0, targets)
    np.testing.assert_array_equal(R, [[2, 4], [np.inf, np.inf]])
    np.testing.assert_allclose(ecdf(R, np.array([1, 2, 4, 100])), [0, 0.25, 0.5, 0.5])
    gaps = fixed_budget_gaps(trials, 1.0, np.array([1, 3, 10]))
    np.testing.assert_allclose(gaps, [[0.8, 0.1, 0.0], [0.9, 0.7, 0.7]])


@needs_botorch
def test_botorch_on_a_mixed_space_asks_new_decisions_inside_the_bounds():
    p = Problem(lambda x: (0.02 + np.exp(-x[0] / 40) + (x[1] - 0.01) ** 2, x[0]),
                (2.0, 0.0), (1024.0, 0.05), (True, False))
    opt = plugins.create("optimizer", "botorch", batch_size=3, n_init=4, mc_samples=8, max_choices=32)
    drive(opt, p, budget=10, seed=0)
    X = p.archive_arrays()[0]
    assert p.unique == p.requested == 10
    assert np.all(X >= p.xl) and np.all(X <= p.xu) and np.all(X[:, 0] == np.rint(X[:, 0]))
