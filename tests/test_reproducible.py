"""Same experiment, same numbers: whatever the thread count, cache state or screening of a folder."""

from __future__ import annotations

import hashlib
import json

import pytest

from wsbench.errors import ConfigError
from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment
from wsbench.experiments.store import exact_path

SMALL = {"name": "threads", "spaces": [{"name": "k", "k_max": 40}], "merges": ["neighbor"],
         "optimizers": [{"name": "nsga2", "pop_size": 8}], "seeds": [0], "budget": 24,
         "max_requested": 400, "device": "cpu", "exact": {"enabled": True}}


def _objectives(folder) -> dict:
    """What a trial found, per trial id: every evaluation, the front and the merged front."""
    out = {}
    for path in sorted((folder / "trials").glob("*.json")):
        rec = json.loads(path.read_text())
        out[rec["id"]] = (rec["model"], rec["archive"]["f"], [(s["k"], s["d"], s["val"], s["test"])
                          for s in rec["front"] + rec["merged"]])
    return out


@pytest.mark.slow
def test_one_and_two_threads_from_empty_caches_give_identical_records(tmp_path, monkeypatch):
    """The default task (shipped weights) and a task trained on first use (seed 3, 4 epochs)."""
    import torch

    before = torch.get_num_threads()
    found = {}
    for threads in (1, 2):
        monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / f"cache-{threads}"))  # empty
        exp = parse_experiment({**SMALL, "threads": threads,
                                "tasks": ["digits-cnn", {"name": "digits-cnn", "seed": 3, "epochs": 4,
                                                         "label": "digits-cnn-s3"}]},
                               source="threads.toml")
        run_experiment(exp, tmp_path / f"out-{threads}", progress=False, log=lambda m: None)
        found[threads] = _objectives(tmp_path / f"out-{threads}")
    assert torch.get_num_threads() == before
    assert len(found[1]) == 2 and found[1] == found[2]
    models = {rec[0] for rec in found[1].values()}
    assert len(models) == 2  # the trained task is not the shipped model


def test_training_a_digits_model_ignores_the_callers_thread_count():
    """Two threads gave weights 4e-4 apart from one before training was pinned to one thread."""
    import torch
    from wsbench_plugins.digits import DigitsTask, state_bytes

    before = torch.get_num_threads()
    digests = []
    for threads in (2, 1):
        torch.set_num_threads(threads)
        try:
            digests.append(hashlib.sha256(state_bytes(DigitsTask("cnn", seed=5, epochs=2).fit())).hexdigest())
        finally:
            torch.set_num_threads(before)
    assert digests[0] == digests[1]
    assert torch.get_num_threads() == before


def test_the_default_digits_models_are_the_shipped_files():
    """Every machine scores the same weights: the task loads the committed, checksummed file."""
    from wsbench_plugins.digits import PACKAGED, DigitsTask, state_bytes

    for arch in ("cnn", "mlp"):
        task = DigitsTask(arch)
        shipped = (PACKAGED / f"digits-{arch}.pt").read_bytes()
        sha = (PACKAGED / f"digits-{arch}.sha256").read_text().split()[0]
        assert hashlib.sha256(shipped).hexdigest() == sha
        model = task.load(progress=False).model
        assert state_bytes(model) == shipped or all(
            (a == b).all() for a, b in zip(model.state_dict().values(), _load(shipped).values()))


def _load(blob: bytes) -> dict:
    import io

    import torch

    return torch.load(io.BytesIO(blob), weights_only=True)


def test_a_screened_experiment_never_reuses_an_fp32_exact_front(tmp_path):
    base = {**SMALL, "tasks": ["digits-mlp"], "threads": 1,
            "spaces": [{"name": "k", "k_max": 12}], "merges": ["none"]}
    plain = parse_experiment(base, source="a.toml")
    screened = parse_experiment({**base, "fidelity": 0.5}, source="b.toml")
    run_experiment(plain, tmp_path, progress=False, log=lambda m: None)
    run_experiment(screened, tmp_path, progress=False, log=lambda m: None)
    t_plain, t_screened = plain.trials()[0], screened.trials()[0]
    p_plain, p_screened = exact_path(tmp_path, plain, t_plain), exact_path(tmp_path, screened, t_screened)
    assert p_plain != p_screened and p_plain.exists() and p_screened.exists()
    assert json.loads(p_screened.read_text())["screening"] == {"fidelity": 0.5}


def test_the_report_refuses_to_pool_trials_of_different_weights(tmp_path):
    from wsbench.report.data import load_results

    exp = parse_experiment({**SMALL, "tasks": ["digits-mlp"], "threads": 1, "seeds": [0, 1],
                            "spaces": [{"name": "k", "k_max": 12}], "merges": ["none"],
                            "exact": {"enabled": False}}, source="c.toml")
    run_experiment(exp, tmp_path, progress=False, log=lambda m: None)
    assert len(load_results(tmp_path).trials) == 2
    path = sorted((tmp_path / "trials").glob("*.json"))[1]
    rec = json.loads(path.read_text())
    rec["model"] = "0123456789abcdef"  # as if run on another checkpoint
    path.write_text(json.dumps(rec))
    with pytest.raises(ConfigError, match="different trained weights"):
        load_results(tmp_path)


@pytest.mark.parametrize("damage", ["reference", "archive"])
def test_a_hand_edited_results_folder_is_one_error_line(tmp_path, capsys, damage):
    from wsbench.cli import main

    exp = parse_experiment({**SMALL, "tasks": ["digits-mlp"], "threads": 1, "seeds": [0],
                            "spaces": [{"name": "k", "k_max": 12}], "merges": ["none"],
                            "exact": {"enabled": False}}, source="d.toml")
    run_experiment(exp, tmp_path, progress=False, log=lambda m: None)
    if damage == "reference":
        (tmp_path / "reference.json").write_text(json.dumps({"tasks": {"digits-mlp": {"f1_max": 1}}}))
    else:
        path = next((tmp_path / "trials").glob("*.json"))
        rec = json.loads(path.read_text())
        del rec["archive"]
        path.write_text(json.dumps(rec))
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsbench: error:") and err.count("\n") == 1 and "malformed" in err


DIGESTS = """
import sys
from wsbench import plugins
from wsbench.codec.weights import WeightView
data = plugins.create("task", "digits-cnn").load(progress=False)
w = WeightView.of(data.model).original
q = plugins.create("quantizer", "uniform")
print(" ".join(q.quantize(w, k).digest() for k in range(2, 400, 7)))
"""


@pytest.mark.slow
def test_uniform_bins_are_the_same_with_the_scalar_cpu_kernels(tmp_path):
    """ATen's scalar kernels stand in for a CPU without AVX2: the same bins, bit for bit (the
    vectorised torch.linspace rounded some edges differently and moved weights between bins)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WSBENCH_CACHE": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", DIGESTS], env={**env, **extra}, capture_output=True,
                           text=True, check=True).stdout.split()
            for extra in ({}, {"ATEN_CPU_CAPABILITY": "default"})]
    assert len(runs[0]) == 57 and runs[0] == runs[1]
