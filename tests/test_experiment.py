"""Experiment files: parsing, trial keys, strict one-line validation errors."""

from __future__ import annotations

import pytest

from wsbench.errors import ConfigError
from wsbench.experiments.experiment import load_experiment, parse_experiment

BASE = {"name": "t", "tasks": ["digits-mlp"], "optimizers": ["nsga2"], "budget": 10}


def test_minimal_file_gets_documented_defaults(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('name = "t"\ntasks = ["digits-mlp"]\noptimizers = ["nsga2", "exhaustive"]\n'
                    'budget = 10\nseeds = 3\n')
    exp = load_experiment(path)
    assert exp.seeds == [0, 1, 2]
    assert [s.name for s in exp.spaces] == ["k"] and [m.name for m in exp.merges] == ["neighbor"]
    assert exp.drops == (0.005, 0.01) and exp.max_drop == 0.01
    ref = exp.reference["digits-mlp"]
    assert (ref.f1_max, ref.d_scale, ref.d_max, ref.ref_point) == (1.0, "log2", 1024.0, (1.0, 1.0))
    assert len(exp.trials()) == 2 * 3
    assert "budget = 10" in exp.source


def test_plugin_tables_labels_and_trial_keys():
    exp = parse_experiment({**BASE, "optimizers": [
        {"name": "nsga2", "pop_size": 20, "label": "nsga2-small"}, {"name": "nsga2"}],
        "spaces": [{"name": "k", "k_max": 64}], "seeds": [3, 7]})
    opts = exp.optimizers
    assert opts[0].label == "nsga2-small" and opts[0].options == {"pop_size": 20}
    assert opts[1].label == "nsga2" and exp.spaces[0].label == "k(k_max=64)"
    trials = exp.trials()
    assert len(trials) == 4 and len({t.key for t in trials}) == 4
    # the label is display only: relabelling keeps the key, changing an option changes it
    relabelled = parse_experiment({**BASE, "optimizers": [{"name": "nsga2", "pop_size": 20, "label": "x"}],
                                   "spaces": [{"name": "k", "k_max": 64}], "seeds": [3]})
    assert relabelled.trials()[0].key == trials[0].key
    other = parse_experiment({**BASE, "optimizers": [{"name": "nsga2", "pop_size": 21}],
                              "spaces": [{"name": "k", "k_max": 64}], "seeds": [3]})
    assert other.trials()[0].key != trials[0].key
    assert exp.from_dict(exp.as_dict()).trials()[0].key == trials[0].key


@pytest.mark.parametrize("change, key, words", [
    ({"budgett": 3}, "budgett", "unknown key"),
    ({"budget": "10"}, "budget", "must be int"),
    ({"budget": True}, "budget", "must be int"),
    ({"budget": 0}, "budget", "at least 1"),
    ({"optimizers": ["nsga2", "nsga4"]}, "optimizers[1]", "valid optimizers: "),
    ({"optimizers": [{"name": "nsga2", "pop_size": 1}]}, "optimizers[0]", "pop_size"),
    ({"optimizers": [{"name": "nsga2", "popsize": 20}]}, "optimizers[0]", "popsize"),
    ({"optimizers": [{"pop_size": 20}]}, "optimizers[0]", "needs name"),
    ({"optimizers": [{"name": "nsga2", "label": "a"}, {"name": "exhaustive", "label": "a"}]},
     "optimizers[1]", "used twice"),
    ({"optimizers": ["nsga2", "nsga2"]}, "optimizers[1]", "used twice"),
    ({"tasks": ["digits-mlp", "no-such-task"]}, "tasks[1]", "valid tasks: "),
    ({"spaces": ["kk"]}, "spaces[0]", "valid spaces: "),
    ({"seeds": [0, 0]}, "seeds", "duplicates"),
    ({"seeds": "0"}, "seeds", "non-negative integers"),
    ({"metric": "auc"}, "metric", "valid metrics"),
    ({"max_requested": 5}, "max_requested", ">= budget"),
    ({"drops": [0.01, 2]}, "drops", "[0, 1)"),
    ({"max_drop": 0.001}, "max_drop", "largest of drops"),
    ({"exact": {"max_pints": 3}}, "exact.max_pints", "unknown key"),
    ({"indicator": {"d_scale": "log10"}}, "indicator.d_scale", "log2"),
    ({"indicator": {"ref_point": [1.0]}}, "indicator.ref_point", "two positive numbers"),
    ({"indicator": {"tasks": {"digits-cnn": {"f1_max": 0.5}}}}, "indicator.tasks.digits-cnn", "not a task"),
    ({"indicator": {"tasks": {"digits-mlp": {"d_max": 1}}}}, "indicator.tasks.digits-mlp.d_max", ">= 2"),
])
def test_invalid_values_are_one_line_errors_naming_file_and_key(change, key, words):
    with pytest.raises(ConfigError) as err:
        parse_experiment({**BASE, **change}, source="bad.toml")
    msg = str(err.value)
    assert msg.startswith(f"bad.toml: {key}: "), msg
    assert words in msg and "\n" not in msg


def test_missing_required_key_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"^x\.toml: budget: missing"):
        parse_experiment({k: v for k, v in BASE.items() if k != "budget"}, source="x.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_experiment(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiment(tmp_path / "absent.toml")


def test_cli_run_with_a_bad_file_exits_2_with_one_line(tmp_path, capsys):
    from wsbench.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "t"\ntasks = ["digits-mlp"]\noptimizers = ["nsga2", "nsga4"]\nbudget = 10\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wsbench: error: ") and "\n" not in err
    assert str(bad) in err and "optimizers[1]" in err and "unknown optimizer 'nsga4'" in err
    assert not (tmp_path / "res").exists()  # nothing started


def test_cli_dry_run_lists_trials(tmp_path, capsys):
    from wsbench.cli import main

    path = tmp_path / "e.toml"
    path.write_text('name = "t"\ntasks = ["digits-mlp"]\noptimizers = ["nsga2", "exhaustive"]\n'
                    'budget = 10\nseeds = [0, 1]\n')
    assert main(["run", str(path), "--dry-run", "--out", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out
    assert out.count("todo  digits-mlp__k__uniform__") == 4 and "4 trials, 0 done" in out
