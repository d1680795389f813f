"""Results are neither lost nor duplicated when processes share a folder or get killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wsbench.cli import main
from wsbench.experiments.experiment import load_experiment

SLOW_RUN = """
import sys, time
from wsbench.search.fitness import FitnessHarness
evaluate = FitnessHarness._evaluate_one
def slow(self, x):  # long enough trials that the two processes overlap
    time.sleep(0.1)
    return evaluate(self, x)
FitnessHarness._evaluate_one = slow
from wsbench.cli import main
sys.exit(main(sys.argv[1:]))
"""

HOLD = """
import sys, time
from wsbench.experiments import locking
lock = locking.take(sys.argv[1])
print("held" if lock else "taken", flush=True)
time.sleep(float(sys.argv[2]))
"""

EXPERIMENT = """name = "conc"
tasks = ["digits-cnn"]
spaces = [{ name = "k", k_max = 12 }]
optimizers = ["random"]
seeds = 4
budget = 10
threads = 1
device = "cpu"
"""


def _records(out):
    return [json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))]


def test_two_runs_on_one_folder_run_each_trial_once(tmp_path, digits_cnn):
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT)
    out = tmp_path / "res"
    cmd = [sys.executable, "-c", SLOW_RUN, "run", str(path), "--out", str(out), "--no-progress"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    trials = load_experiment(path).trials()
    recs = _records(out)
    assert sorted(r["key"] for r in recs) == sorted(t.key for t in trials)
    assert all(r["status"] == "ok" and r["unique"] == 10 for r in recs)
    runs = [json.loads(p.read_text())["trials"] for p in (out / "runs").glob("*.json")]
    assert len(runs) == 2
    assert sum(r["ran"] for r in runs) == len(trials), (runs, outputs)  # each trial ran once
    for r in runs:  # and each process accounts for every trial
        assert r["ran"] + r["already_done"] + r["by_another_process"] == len(trials), (runs, outputs)
        assert r["taken"] == 0
    assert sum(r["by_another_process"] + r["already_done"] for r in runs) == len(trials)
    assert len(list((out / "exact").glob("*.json"))) == 1
    assert not list((out / "locks").iterdir())  # every lock released and removed


def test_a_trial_held_by_a_process_that_stops_is_run_here_after_waiting(tmp_path, digits_cnn):
    from wsbench.experiments.claims import Claims
    from wsbench.experiments.runner import run_experiment

    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT.replace("seeds = 4", "seeds = 2"))
    exp, out = load_experiment(path), tmp_path / "res"
    first = exp.trials()[0]
    holder = _holder(Claims(out).lock_path(first.key), "3")  # holds it 3 s, writes nothing
    messages = []
    t0 = time.perf_counter()
    summary = run_experiment(exp, out, progress=False, log=messages.append)
    assert holder.wait(timeout=60) == 0
    assert any("taken by another process" in m for m in messages)
    assert summary.ran == 2 and not summary.elsewhere and not summary.taken
    assert time.perf_counter() - t0 >= 2  # it waited for the holder
    assert sorted(r["key"] for r in _records(out)) == sorted(t.key for t in exp.trials())


def test_compress_runs_ending_in_the_same_second_keep_both(tmp_path, digits_cnn, monkeypatch,
                                                            capsys):
    monkeypatch.setattr(time, "strftime", lambda *a, **k: "20260101-000000")  # a frozen clock
    argv = ["compress", "--optimizer", "random", "--budget", "5", "--k-max", "16",
            "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0 and main(argv) == 0
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2 and all("20260101-000000" in p.name for p in runs), runs
    for run in runs:
        assert json.loads((run / "run.json").read_text())["config"]["budget"] == 5
        assert list((run / "compressed").glob("*.wsb"))
    # a chosen name that exists is refused before the search, and the folder is kept
    before = (runs[0] / "run.json").read_bytes()
    assert main([*argv, "--name", runs[0].name]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (runs[0] / "run.json").read_bytes() == before and len(list(tmp_path.iterdir())) == 2


@pytest.mark.parametrize("out", ["file", "file/sub"])
def test_compress_to_an_unusable_out_fails_before_the_search(tmp_path, capsys, monkeypatch, out):
    import wsbench.experiments.compress_run

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(wsbench.experiments.compress_run, "run_compress", lambda *a, **k: 1 / 0)
    t0 = time.perf_counter()
    assert main(["compress", "--out", str(tmp_path / out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsbench: error: --out: ") and "is not a folder" in err
    assert err.count("\n") == 1 and time.perf_counter() - t0 < 5
    quick = Path(__file__).parents[1] / "benchmarks" / "quick.toml"
    assert main(["run", str(quick), "--out", str(tmp_path / out)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def _holder(lock_path, seconds: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path), seconds],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_stale_partials_are_cleaned_live_ones_kept(tmp_path):
    from wsbench.experiments.staging import prepare_root

    def partial(name: str):
        stage = tmp_path / f".{name}.partial"
        (stage / "compressed").mkdir(parents=True)
        (stage / "table.md").write_text("half")
        return stage, stage.with_name(stage.name + ".lock")

    dead, dead_lock = partial("killed")
    killed = _holder(dead_lock, "60")
    killed.send_signal(signal.SIGKILL)  # as a killed compress: its lock file stays, unlocked
    killed.wait()
    live, live_lock = partial("writing")
    writer = _holder(live_lock, "60")
    old, _ = partial("old-version")  # no lock file: only its age tells
    young, _ = partial("young-old-version")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    try:
        prepare_root(tmp_path, None)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [live.name, live_lock.name, young.name])
    finally:
        writer.kill()
        writer.wait()
    prepare_root(tmp_path, None)  # its writer is gone now
    assert sorted(p.name for p in tmp_path.iterdir()) == [young.name]


def test_a_lock_path_taken_by_a_folder_is_one_error_line(tmp_path, capsys):
    """A folder (or a file where the locks folder belongs) is refused naming the path, not
    raised as IsADirectoryError."""
    from wsbench.errors import ConfigError
    from wsbench.experiments import locking

    (tmp_path / "a.lock").mkdir()
    with pytest.raises(ConfigError, match=r"a\.lock: cannot be a lock file \(Is a directory"):
        locking.take(tmp_path / "a.lock")
    (tmp_path / "locks").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot be a lock file"):
        locking.take(tmp_path / "locks" / "b.lock")
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT.replace("seeds = 4", "seeds = 1") + "[exact]\nenabled = false\n")
    out = tmp_path / "res"
    (out / "locks" / f"{load_experiment(path).trials()[0].key}.lock").mkdir(parents=True)
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be a lock file" in err and "remove what is" in err
