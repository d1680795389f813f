"""Replays on a tabulated landscape: the same search as a live run, decision for decision."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment
from wsbench.search.tabulated import TabulatedProblem


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    exp = parse_experiment({"name": "live", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 40}],
                            "optimizers": [{"name": "nsga2", "pop_size": 6}, "random", "cmaes", "pso", "frontier"],
                            "merges": ["none"], "seeds": [0, 1], "budget": 15, "threads": 1,
                            "device": "cpu"}, source="live.toml")
    out = tmp_path_factory.mktemp("live") / "results"
    run_experiment(exp, out, progress=False, log=lambda m: None)
    from wsbench.report.data import load_results

    return load_results(out)


def replay_like(t, problem) -> None:
    """Drive ``problem`` as live trial ``t`` was driven, and check it asked and got the same."""
    from wsbench import plugins
    from wsbench.search.optimizer import drive

    spec = t.trial.optimizer
    drive(plugins.create("optimizer", spec.name, **spec.options), problem, budget=t.trial.budget,
          seed=t.trial.seed, max_requested=t.trial.max_requested)
    arch = t.record.archive
    assert [list(e.x) for e in problem.archive] == arch.x, t.trial.id
    assert [list(e.f) for e in problem.archive] == arch.f, t.trial.id
    assert [e.cached for e in problem.archive] == arch.cached
    np.testing.assert_allclose([e.cost for e in problem.archive], arch.cost)


def test_a_replay_asks_and_gets_exactly_what_the_live_search_did(live):
    (exact,) = live.exact_for("digits-mlp")
    table = {tuple(x): tuple(f) for x, f in zip(exact.x, exact.f)}
    assert len(table) == 39  # K = 2 ... 40
    for t in live.trials:
        replay_like(t, TabulatedProblem(table))


def test_a_table_that_is_not_a_whole_landscape_is_refused():
    with pytest.raises(ValueError, match="not an exhaustive landscape"):
        TabulatedProblem({(2.0,): (0.5, 2.0), (4.0,): (0.4, 4.0)})  # K = 3 missing
    with pytest.raises(ValueError, match="empty"):
        TabulatedProblem({})
    p = TabulatedProblem({(2.0,): (0.5, 2.0), (3.0,): (0.4, 3.0)})
    np.testing.assert_array_equal(p.evaluate(np.array([[2.6], [2.0]])), [[0.4, 3.0], [0.5, 2.0]])
    assert p.unique == 2 and p.space_size == 2


def _script(name: str):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_margin_estimates_replay_from_the_tabulated_predictions(tmp_path):
    """A live search with margin estimates (screened on a fidelity subset) and its replay on the
    table of predictions ask the same decisions, get the same objectives and spend the same."""
    from wsbench.report.data import load_results
    from wsbench.search.tabulated import Landscape, LandscapeProblem

    data = {"name": "est", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 48}],
            "optimizers": [{"name": "frontier", "estimate_share": 0.2, "n_init": 3}],
            "merges": ["none"], "seeds": [0, 1], "budget": 14, "threads": 1, "device": "cpu",
            "fidelity": 0.5}
    exp = parse_experiment(data, source="est.toml")
    run_experiment(exp, tmp_path / "results", progress=False, log=lambda m: None)
    live = load_results(tmp_path / "results")
    out = tmp_path / "land.npz"
    _script("tabulate_landscapes").tabulate(exp, exp.trials()[0], out)
    land = Landscape.load(out)
    assert land.pred.shape[0] == 47 and land.pred.shape[1] == len(land.labels)
    (exact,) = live.exact_for("digits-mlp")
    assert {tuple(x): tuple(f) for x, f in zip(exact.x, exact.f)} == land.table()
    charged = []
    for t in live.trials:
        problem = LandscapeProblem(land)
        replay_like(t, problem)
        charged.append(problem.charged)
    assert max(charged) > 0  # the estimates were used, and charged


def test_a_landscape_file_that_is_not_one_is_one_clear_error(tmp_path):
    from wsbench.errors import ConfigError
    from wsbench.search.tabulated import Landscape

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a table")
    with pytest.raises(ConfigError, match="not a readable landscape table"):
        Landscape.load(bad)
    np.savez(tmp_path / "partial.npz", X=np.zeros((2, 1)))
    with pytest.raises(ConfigError, match="not a readable landscape table"):
        Landscape.load(tmp_path / "partial.npz")


def test_the_estimate_filtered_sweep_counts_by_hand():
    sweep = _script("landscape_estimates").estimate_sweep
    K = np.array([5.0, 2.0, 4.0, 3.0])  # out of order: the sweep goes by K
    f = np.array([0.4, 0.9, 0.6, 0.5])
    front = {0, 1, 3}
    # K=2 (0.8 < inf) and K=3 (0.4 < 0.9) evaluated; K=4 skipped (0.7 >= 0.5); K=5 (0.3 < 0.5)
    assert sweep(K, f, np.array([0.3, 0.8, 0.7, 0.4]), front) == (3, 0)
    # an estimate of 0.6 for K=5 hides a front point behind K=3's 0.5
    assert sweep(K, f, np.array([0.6, 0.8, 0.7, 0.4]), front) == (2, 1)


def test_a_random_item_subsample_of_every_item_ranks_as_the_full_objective():
    from types import SimpleNamespace

    random_items = _script("landscape_estimates").random_items
    labels = np.zeros((2, 5), dtype=np.int64)  # two windows of five characters
    correct = np.array([9, 7, 4, 2])  # characters each decision gets right, of ten
    pred = np.ones((4, 2, 5), dtype=np.int16)
    for i, c in enumerate(correct):
        pred[i].reshape(-1)[:c] = 0
    tail = np.ones(4, dtype=bool)
    land = SimpleNamespace(X=np.arange(4.0)[:, None], pred=pred, labels=labels,
                           F=np.stack([1 - correct / 10, np.arange(4.0)], 1))
    assert random_items(land, 1.0, tail) == pytest.approx(1.0)
    land.F = np.stack([correct / 10, np.arange(4.0)], 1)  # an objective ranked the other way
    assert random_items(land, 1.0, tail) == pytest.approx(-1.0)
