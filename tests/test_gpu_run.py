"""benchmarks/gpu/run.sh: the one script a GPU session runs, rehearsed here at toy scale on the CPU.

The GPU time is short and spent on one call, so every step must work before it gets there:
the rehearsal runs all four steps with --tiny and checks what each left in $OUT.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_TAR = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.xz"
sys.path.insert(0, str(ROOT / "benchmarks" / "gpu"))

from gpu_common import Plan, call  # noqa: E402
from gpu_protocol import experiment_file, with_keys  # noqa: E402


def _plan(tmp_path: Path, tiny: bool) -> Plan:
    return Plan(out=tmp_path / "out", work=tmp_path / "work", wheels=tmp_path / "wheels",
                data=None, device="cuda" if not tiny else "cpu", tiny=tiny, epochs=1,
                batch_size=8, lr=0.1, seeds=1, part_bytes=1 << 20)


def test_protocol_file_changes_only_task_seeds_and_device(tmp_path):
    from wsbench.experiments.experiment import load_experiment

    published = tomllib.loads((ROOT / "benchmarks" / "paper-cifar10.toml").read_text())
    path = experiment_file(_plan(tmp_path, tiny=False), "paper-cifar10-resnet18",
                           {"name": "cifar10-resnet18", "label": "r18"}, [0, 1])
    ours = tomllib.loads(path.read_text())
    changed = {k for k in published.keys() | ours.keys() if published.get(k) != ours.get(k)}
    assert changed == {"name", "description", "tasks", "seeds", "device"}
    assert ours["tasks"] == [{"name": "cifar10-resnet18", "label": "r18"}]
    assert ours["seeds"] == [0, 1] and ours["device"] == "cuda"
    tiny = experiment_file(_plan(tmp_path, tiny=True), "t", "cifar10-resnet20", [0])
    exp = load_experiment(tiny)  # wsbench itself accepts the rehearsal's file
    assert exp.seeds == [0] and exp.device == "cpu" and exp.optimizers[0].options["pop_size"] == 4


def test_with_keys_adds_a_missing_key_before_the_first_table():
    text = 'a = 1\n# b = 0 in a comment\n[t]\nb = 2\n'
    assert tomllib.loads(with_keys(text, {"a": 5, "b": "x"})) == {"a": 5, "b": "x", "t": {"b": 2}}


def test_a_step_past_its_timeout_is_ended(tmp_path):
    start = time.monotonic()
    status = call([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                  tmp_path / "log", timeout=3)
    assert status == "timeout" and time.monotonic() - start < 30
    assert "up" in (tmp_path / "log").read_text() and "timed out" in (tmp_path / "log").read_text()
    assert call([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "log", 30) == "failed (rc 3)"


def test_results_too_big_to_return_leave_the_trial_records_out(tmp_path, monkeypatch):
    import gpu_common
    from gpu_common import Clock, publish

    plan = _plan(tmp_path, tiny=True)
    (plan.results / "exp" / "trials").mkdir(parents=True)
    (plan.results / "exp" / "trials" / "t.json").write_bytes(os.urandom(20_000))
    (plan.results / "exp" / "report.md").write_text("# report\n")
    plan.out.mkdir()
    plan.statuses["train"] = {"status": "ok"}
    publish(plan, Clock(100))
    with tarfile.open(plan.out / "results.tar.gz") as tar:
        assert "results/exp/trials/t.json" in tar.getnames()
    monkeypatch.setattr(gpu_common, "RETURNED", 10_000)
    publish(plan, Clock(100))
    with tarfile.open(plan.out / "results.tar.gz") as tar:
        names = tar.getnames()
    assert "results/exp/report.md" in names and "results/exp/trials/t.json" not in names
    assert json.loads((plan.out / "status.json").read_text())["steps"] == {"train": {"status": "ok"}}
    assert sorted(p.name for p in plan.out.iterdir()) == ["results.tar.gz", "status.json"]


@pytest.mark.slow
def test_tiny_rehearsal_runs_every_step(tmp_path):
    if not SHARED_TAR.exists():
        pytest.skip(f"shared CIFAR-10 (JPEG) archive absent: {SHARED_TAR}")
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable)
    start = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu" / "run.sh"), "--tiny",
                           "--work", str(tmp_path / "work"), "--data", str(SHARED_TAR)],
                          env=env, capture_output=True, text=True, timeout=1500)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    status = json.loads((out / "status.json").read_text())
    assert {k: v["status"] for k, v in status["steps"].items()} == dict.fromkeys(
        ("install", "bench", "train", "protocol"), "ok"), status
    print(f"rehearsal: {seconds:.0f} s; steps {status['steps']}")
    assert (out / "run.log").read_text().count("== ") >= 8  # a start and an end line per step
    _check_checkpoint(out)
    with tarfile.open(out / "results.tar.gz") as tar:
        names = set(tar.getnames())
        bench = json.load(tar.extractfile("results/bench/bench-device.json"))
        train = json.load(tar.extractfile("results/train/cifar10-resnet18.json"))
    assert any(r["section"] == "7 device" and "resnet18-size" in r["metric"] for r in bench["rows"])
    assert train["recipe"]["device"] == "cpu" and train["recipe"]["epochs"] == 1
    assert "limited to train 1000" in train["recipe"]["split"]
    for name in ("paper-cifar10-resnet18", "paper-cifar10-resnet20"):
        assert any(n.startswith(f"results/{name}/trials/") for n in names), name
        assert f"results/{name}/report.md" in names, sorted(names)


def _check_checkpoint(out: Path) -> None:
    """The parts in $OUT join to the checkpoint their sha256 names, each under the size asked."""
    parts = sorted(out.glob("cifar10-resnet18.pt.part*"))
    assert parts and all(p.stat().st_size <= 15 << 20 for p in parts)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()
    assert (out / "cifar10-resnet18.sha256").read_text().split()[0] == digest
