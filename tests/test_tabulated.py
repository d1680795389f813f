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


def test_a_replay_asks_and_gets_exactly_what_the_live_search_did(live):
    from wsbench import plugins
    from wsbench.search.optimizer import drive

    (exact,) = live.exact_for("digits-mlp")
    table = {tuple(x): tuple(f) for x, f in zip(exact.x, exact.f)}
    assert len(table) == 39  # K = 2 ... 40
    for t in live.trials:
        problem = TabulatedProblem(table)
        spec = t.trial.optimizer
        drive(plugins.create("optimizer", spec.name, **spec.options), problem, budget=t.trial.budget,
              seed=t.trial.seed, max_requested=t.trial.max_requested)
        arch = t.record.archive
        assert [list(e.x) for e in problem.archive] == arch.x, t.trial.id
        assert [list(e.f) for e in problem.archive] == arch.f, t.trial.id
        assert [e.cached for e in problem.archive] == arch.cached


def test_a_table_that_is_not_a_whole_landscape_is_refused():
    with pytest.raises(ValueError, match="not an exhaustive landscape"):
        TabulatedProblem({(2.0,): (0.5, 2.0), (4.0,): (0.4, 4.0)})  # K = 3 missing
    with pytest.raises(ValueError, match="empty"):
        TabulatedProblem({})
    p = TabulatedProblem({(2.0,): (0.5, 2.0), (3.0,): (0.4, 3.0)})
    np.testing.assert_array_equal(p.evaluate(np.array([[2.6], [2.0]])), [[0.4, 3.0], [0.5, 2.0]])
    assert p.unique == 2 and p.space_size == 2
