"""Values that would make results meaningless are refused at parse time, the same way from a
flag and from an experiment file: exit 2, one ``wsbench: error:`` line, nothing run."""

from __future__ import annotations

import json
import math
import re

import pytest

from wsbench.cli import main

BASE = {"name": "t", "tasks": ["digits-mlp"], "optimizers": ["random"], "budget": 10}


def toml_value(v) -> str:
    """A tiny TOML writer (inline values only): enough for experiment files."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + "".join(c if c >= " " and c not in '"\\\x7f' else f"\\u{ord(c):04x}"
                             for c in v) + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


def toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_text(data: dict) -> str:
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in data.items())


def errors(capsys, argv: list[str]) -> str:
    """Run the CLI, check the one-line refusal, return the message."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert err.count("\n") == 1 and err.startswith("wsbench: error: "), err
    assert "Traceback" not in err + out
    return err.strip()


# (bad value, flags, experiment-file change, what names the value on each side)
SAME = [
    ("nan", ["--max-drop", "nan"], {"max_drop": math.nan}, "--max-drop", "max_drop"),
    ("inf", ["--max-drop", "inf"], {"max_drop": math.inf}, "--max-drop", "max_drop"),
    ("-1", ["--max-drop", "-1"], {"max_drop": -1.0}, "--max-drop", "max_drop"),
    ("nan", ["--fidelity", "nan"], {"fidelity": math.nan}, "--fidelity", "fidelity"),
    ("-1", ["--budget", "-1"], {"budget": -1}, "--budget", "budget"),
    ("-1", ["--seed", "-1"], {"seeds": [-1]}, "--seed", "seeds"),
    ("../x", ["--name", "../x"], {"name": "../x"}, "--name", "name"),
    ("a/b", ["--name", "a/b"], {"name": "a/b"}, "--name", "name"),
    ("cuda:x", ["--device", "cuda:x"], {"device": "cuda:x"}, "--device", "device"),
    ("gpu", ["--device", "gpu"], {"device": "gpu"}, "--device", "device"),
    ("1e9", ["--optimizer", "nsga2", "--set", "optimizer.pop_size=1000000000"],
     {"optimizers": [{"name": "nsga2", "pop_size": 1_000_000_000}]},
     "--set optimizer.pop_size=1000000000", "optimizers[0]"),
    ("1e9", ["--budget", "1000000000"], {"budget": 1_000_000_000}, "--budget", "budget"),
]


@pytest.mark.parametrize("bad,flags,change,flag,key", SAME, ids=[f"{c[0]}:{c[3]}" for c in SAME])
def test_flag_and_file_refuse_the_same_value_the_same_way(capsys, tmp_path, no_search, bad, flags,
                                                           change, flag, key):
    cli = errors(capsys, ["compress", *flags, "--out", str(tmp_path / "c")])
    path = tmp_path / "e.toml"
    path.write_text(toml_text({**BASE, **change}))
    toml = errors(capsys, ["run", str(path), "--out", str(tmp_path / "r")])
    assert toml.startswith(f"wsbench: error: {path}: ")
    assert bad.lstrip("-").replace("1e9", "1000000000") in cli
    # the same checker: the same words after the name of the value
    assert cli.split(f"{flag}: ", 1)[1] == toml.split(f"{key}: ", 1)[1]
    assert not (tmp_path / "c").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("change, key", [
    ({"indicator": {"d_max": math.inf}}, "indicator.d_max"),
    ({"indicator": {"f1_max": math.nan}}, "indicator.f1_max"),
    ({"indicator": {"ref_point": [math.inf, 1.0]}}, "indicator.ref_point"),
    ({"indicator": {"tasks": {"digits-mlp": {"ref_point": [1.0, math.nan]}}}},
     "indicator.tasks.digits-mlp.ref_point"),
    ({"optimizers": [{"name": "random", "label": "../x"}]}, "optimizers[0].label"),
    ({"optimizers": [{"name": "random", "label": "a/b"}]}, "optimizers[0].label"),
    ({"tasks": [{"name": "digits-mlp", "label": ".."}]}, "tasks[0].label"),
    ({"name": ".."}, "name"),
    ({"merges": [{"name": "neighbor", "tolerance": math.inf}]}, "merges[0]"),
    ({"seeds": 1_000_000_000}, "seeds"),
    ({"seeds": [2**40]}, "seeds"),
    ({"seeds": 5000, "optimizers": ["random", "nsga2", "exhaustive"],
      "merges": ["none", "neighbor", "neighbor-bits", "neighbor-holdout"],
      "quantizers": ["uniform", "kmeans"]}, "seeds"),
    ({"threads": -1}, "threads"),
    ({"max_requested": 10**12}, "max_requested"),
])
def test_file_only_values_are_refused(capsys, tmp_path, change, key):
    path = tmp_path / "e.toml"
    path.write_text(toml_text({**BASE, **change}))
    assert f"{path}: {key}: " in errors(capsys, ["run", str(path), "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "--epochs", "-1"], "--epochs: must be at least 0, got -1"),
    (["train", "--lr", "nan"], "--lr: must be a finite number > 0, got nan"),
    (["train", "--batch-size", "1000000000"], "--batch-size: must be at most 100000"),
    (["train", "--seed", "x"], "--seed: must be an integer, got 'x'"),
    (["compress", "--tolerance", "nan"], "--tolerance: must be a finite number in [0, 1], got nan"),
    (["compress", "--tolerance", "inf"], "--tolerance: must be a finite number in [0, 1], got inf"),
    (["compress", "--set", "merge.tolerance=NaN"],
     "option tolerance of merge 'neighbor' must be in [0, 1], got nan"),
    (["compress", "--max-requested", "0"], "--max-requested: must be at least 1, got 0"),
])
def test_flag_only_values_are_refused(capsys, tmp_path, no_search, monkeypatch, argv, words):
    import wsbench_plugins.cifar.train

    monkeypatch.setattr(wsbench_plugins.cifar.train, "train_cifar_model", lambda *a, **k: 1 / 0)
    out = ["--out", str(tmp_path / "o")]
    assert words in errors(capsys, [*argv, *out])
    assert not (tmp_path / "o").exists()


def test_an_absent_cuda_device_is_refused_before_the_search(capsys, tmp_path, no_search):
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    err = errors(capsys, ["compress", "--device", f"cuda:{n}", "--out", str(tmp_path)])
    assert f"--device: cuda:{n} is not available here ({n} CUDA device(s))" in err


def test_the_longest_trial_id_is_writable_whatever_the_pid(tmp_path, monkeypatch):
    """Labels are cut to 40 characters in a trial id; its record's temporary name must fit too."""
    import os

    from wsbench.experiments.experiment import parse_experiment
    from wsbench.experiments.store import write_json

    label = {"label": "a" * 100}
    exp = parse_experiment({**BASE, **{k: [{"name": n, **label}] for k, n in (
        ("tasks", "digits-mlp"), ("spaces", "k"), ("quantizers", "uniform"),
        ("optimizers", "random"), ("merges", "neighbor"))}, "seeds": [2**32 - 1]})
    (trial,) = exp.trials()
    monkeypatch.setattr(os, "getpid", lambda: 4_194_304)  # Linux's largest pid
    write_json(tmp_path / f"{trial.id}.json", {"id": trial.id})
    assert [p.name for p in tmp_path.iterdir()] == [f"{trial.id}.json"]
