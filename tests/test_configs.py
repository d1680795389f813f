"""Experiments with explicit configurations: each method with its own parts, not a product."""

from __future__ import annotations

import json

import pytest

from wsbench.errors import ConfigError
from wsbench.experiments.experiment import Experiment, parse_experiment
from wsbench.experiments.runner import run_experiment

BASE = {"name": "c", "tasks": ["digits-cnn"], "budget": 6, "seeds": [0, 1],
        "spaces_note": None}
CONFIGS = [{"optimizer": {"name": "nsga2", "pop_size": 6}},
           {"space": {"name": "k", "k_max": 32}, "optimizer": "random", "merge": "none"}]


def exp_of(**extra) -> Experiment:
    data = {k: v for k, v in BASE.items() if v is not None}
    return parse_experiment({**data, **extra})


def test_configs_give_exactly_their_combinations_for_every_task_and_seed():
    exp = exp_of(configs=CONFIGS)
    trials = exp.trials()
    assert len(trials) == 2 * 2  # seeds x configs, not seeds x 2 spaces x 2 optimizers x 2 merges
    parts = {(t.space.label, t.optimizer.name, t.merge.name) for t in trials}
    assert parts == {("k", "nsga2", "neighbor"), ("k(k_max=32)", "random", "none")}
    assert [s.label for s in exp.spaces] == ["k", "k(k_max=32)"]  # the report's factors
    again = Experiment.from_dict(json.loads(json.dumps(exp.as_dict())))
    assert [t.key for t in again.trials()] == [t.key for t in trials]


def test_an_experiment_without_configs_is_written_as_before():
    exp = exp_of(optimizers=["nsga2", "random"])
    assert "configs" not in exp.as_dict() and len(exp.trials()) == 2 * 2


@pytest.mark.parametrize("extra,message", [
    ({"configs": CONFIGS, "optimizers": ["nsga2"]}, "optimizers: give either configs or the lists"),
    ({"configs": [{"space": "k"}]}, "configs[0]: missing optimizer"),
    ({"configs": [{"optimizer": "nsga2", "coding": "x"}]}, "configs[0].coding: unknown key"),
    ({"configs": [{"optimizer": "nsga2"}, {"optimizer": "nsga2"}]}, "configs[1]: same parts"),
    ({"configs": [{"optimizer": "nope"}]}, "configs[0].optimizer: unknown optimizer 'nope'"),
    ({"configs": []}, "configs: must be a non-empty list"),
    ({"configs": [{"optimizer": {"name": "nsga2", "label": "x"}},
                  {"optimizer": {"name": "random", "label": "x"}}]}, "label 'x' names two"),
])
def test_bad_configs_are_one_line_errors(extra, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        exp_of(**extra)


@pytest.mark.usefixtures("one_thread")
def test_a_configs_experiment_runs_and_reports(tmp_path):
    from wsbench.report import write_report

    exp = exp_of(configs=CONFIGS, exact={"enabled": False})
    summary = run_experiment(exp, tmp_path / "r", progress=False)
    assert summary.ran == 4 and not summary.failed
    files = write_report(tmp_path / "r", tmp_path / "rep", formats=["markdown"], figures=False)
    text = next(f for f in files if f.suffix == ".md").read_text()
    assert "k / nsga2" in text and "k(k_max=32) / random" in text


def test_a_config_may_count_its_own_coding_under_the_bits_objective():
    configs = [{"optimizer": "random", "size_coding": "huffman"},
               {"optimizer": "random", "merge": "none", "size_coding": "huffman-layer"},
               {"optimizer": "random", "merge": "none"}]
    exp = exp_of(configs=configs, size="bits", size_coding="huffman")
    codings = [t.size_coding for t in exp.trials() if t.seed == 0]
    assert codings == ["huffman", "huffman-layer", "huffman"]  # the third: the experiment's
    again = Experiment.from_dict(json.loads(json.dumps(exp.as_dict())))
    assert [t.key for t in again.trials()] == [t.key for t in exp.trials()]
    with pytest.raises(ConfigError, match=r"configs\[0\]\.size_coding: .*'zip'"):
        exp_of(configs=[{"optimizer": "random", "size_coding": "zip"}])


def test_a_config_may_set_its_own_budget_and_fidelity():
    configs = [{"optimizer": "random"},
               {"optimizer": "random", "merge": "none", "budget": 7, "fidelity": 0.5}]
    exp = exp_of(configs=configs, budget=11, fidelity=1.0)
    first, second = [t for t in exp.trials() if t.seed == 0]
    assert (first.budget, first.fidelity) == (11, 1.0) and (second.budget, second.fidelity) == (7, 0.5)
    assert first.key != second.key
    again = Experiment.from_dict(json.loads(json.dumps(exp.as_dict())))
    assert [t.key for t in again.trials()] == [t.key for t in exp.trials()]
    with pytest.raises(ConfigError, match=r"configs\[0\]\.fidelity"):
        exp_of(configs=[{"optimizer": "random", "fidelity": 2.0}])


def test_configs_that_score_differently_never_share_a_harness():
    """Same task, space and quantizer, but their own screening or size coding: two harnesses."""
    configs = [{"optimizer": "random"}, {"optimizer": "nsga2", "fidelity": 0.5},
               {"optimizer": "cmaes", "size_coding": "huffman"}, {"optimizer": "pso"}]
    trials = [t for t in exp_of(configs=configs, size="bits").trials() if t.seed == 0]
    keys = [t.harness_key for t in trials]
    assert keys[0] == keys[3] and len({keys[0], keys[1], keys[2]}) == 3


def test_a_config_may_have_its_own_seeds():
    configs = [{"optimizer": "random"}, {"optimizer": "exhaustive", "merge": "none", "seeds": 1},
               {"optimizer": "nsga2", "seeds": [5]}]
    exp = exp_of(configs=configs, seeds=3)
    by_optimizer = {}
    for t in exp.trials():
        by_optimizer.setdefault(t.optimizer.name, []).append(t.seed)
    assert by_optimizer == {"random": [0, 1, 2], "exhaustive": [0], "nsga2": [5]}
    again = Experiment.from_dict(json.loads(json.dumps(exp.as_dict())))
    assert [t.key for t in again.trials()] == [t.key for t in exp.trials()]
    with pytest.raises(ConfigError, match=r"configs\[0\]\.seeds"):
        exp_of(configs=[{"optimizer": "random", "seeds": [1, 1]}])
