"""Experiments on Dask clusters (extra ``cluster``): faults injected for real, and a cluster
started the way users start one. Every process is bounded by a timeout and stopped by its PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the extra 'cluster' (Dask distributed) is not installed")

import cluster_plugins  # noqa: E402 - after the skip: the workers preload it too

from wsbench.cli import main  # noqa: E402
from wsbench.errors import ConfigError  # noqa: E402
from wsbench.experiments.experiment import parse_experiment  # noqa: E402
from wsbench.experiments.runner import run_experiment  # noqa: E402

TESTS = Path(__file__).parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
CLIENT = ("import sys, cluster_plugins; cluster_plugins.register(); "
          "from wsbench.cli import main; sys.exit(main(sys.argv[1:]))")
BASE = {"name": "c", "tasks": ["digits-cnn"], "spaces": [{"name": "k", "k_max": 12}],
        "budget": 5, "threads": 1, "device": "cpu", "exact": {"enabled": False}}


@pytest.fixture(scope="module")
def cluster():
    """A real LocalCluster of 2 worker processes (nannies restart a killed one)."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      preload=["cluster_plugins"], silence_logs=logging.ERROR) as c:
        yield c.scheduler_address


@pytest.fixture(autouse=True)
def test_plugins():
    cluster_plugins.register()
    yield
    cluster_plugins.unregister()


def _exp(address: str, optimizers: list, seeds: list[int], **over) -> "object":
    return parse_experiment({**BASE, "optimizers": optimizers, "seeds": seeds,
                             "run": {"executor": "dask", "scheduler": address}, **over})


def _records(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))}


def _until(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_trial_is_retried_elsewhere(cluster, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    slow = {"name": "t-slow", "pause": 0.3, "marker_dir": str(markers)}
    exp, out, done = _exp(cluster, [slow], [0, 1, 2, 3]), tmp_path / "res", {}
    thread = threading.Thread(target=lambda: done.update(
        summary=run_experiment(exp, out, progress=False, log=lambda m: None)), daemon=True)
    thread.start()
    seed, pid = _until(lambda: [tuple(map(int, p.name.split("-"))) for p in markers.iterdir()],
                       120, "a trial to start")[0]
    os.kill(pid, signal.SIGKILL)  # the worker process running trial `seed`, mid-search
    thread.join(timeout=300)
    assert not thread.is_alive() and "summary" in done
    summary = done["summary"]
    assert summary.ran == 4 and not summary.failed and not summary.skipped
    recs = _records(out)
    assert sorted(r["key"] for r in recs.values()) == sorted(t.key for t in exp.trials())
    assert all(r["status"] == "ok" and r["unique"] == 5 for r in recs.values())
    starts = sorted(int(p.name.split("-")[1]) for p in markers.iterdir()
                    if p.name.startswith(f"{seed}-"))
    assert pid in starts and len(set(starts)) >= 2, starts  # started again, in another process
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_raising_plugin_fails_only_its_trial_with_its_traceback(cluster, tmp_path, capsys):
    exp, out = _exp(cluster, ["random", "t-raises"], [0]), tmp_path / "res"
    summary = run_experiment(exp, out, progress=False, log=lambda m: None)
    assert summary.ran == 1 and len(summary.failed) == 1
    (tid, reason), = summary.failed
    assert reason == "RuntimeError: plugin exploded on purpose"
    trace = (out / "tracebacks" / f"{tid}.txt").read_text()
    assert "cluster_plugins.py" in trace and "in ask" in trace  # the worker's own frames
    statuses = sorted(r["status"] for r in _records(out).values())
    assert statuses == ["failed", "ok"]
    assert main(["report", str(out), "--format", "markdown", "--no-figures"]) == 0
    report = (out / "report.md").read_text()
    assert f"failed {tid}: {reason} (traceback: tracebacks/{tid}.txt)" in report


def test_a_client_killed_mid_experiment_reruns_to_the_same_finished_trials(cluster, tmp_path):
    path, out = tmp_path / "e.toml", tmp_path / "res"
    path.write_text('name = "c"\ntasks = ["digits-cnn"]\nspaces = [{ name = "k", k_max = 12 }]\n'
                    'optimizers = [{ name = "t-slow", pause = 0.2 }]\nseeds = 6\nbudget = 5\n'
                    'threads = 1\ndevice = "cpu"\n[exact]\nenabled = false\n')
    cmd = [sys.executable, "-c", CLIENT, "run", str(path), "--out", str(out), "--no-progress",
           "--executor", "dask", "--scheduler", cluster]
    client = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _until(lambda: len(list((out / "trials").glob("*.json"))) >= 1 if out.exists() else 0,
               180, "a first finished trial")
    finally:
        os.killpg(client.pid, signal.SIGKILL)  # the client, mid-experiment
        client.wait(timeout=60)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "trials").glob("*.json")}
    assert 1 <= len(before) < 6
    rerun = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    recs = _records(out)
    assert len(recs) == 6 and all(r["status"] == "ok" for r in recs.values())
    for name, (data, mtime) in before.items():  # finished trials kept byte for byte, not rewritten
        p = out / "trials" / name
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime
    run = json.loads((out / "run.json").read_text())["trials"]
    assert (run["already_done"], run["ran"]) == (len(before), 6 - len(before))
    assert not list((out / "locks").iterdir())


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys):
    import dask

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "e.toml"
    path.write_text('name = "c"\ntasks = ["digits-cnn"]\noptimizers = ["random"]\nbudget = 3\n')
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        rc = main(["run", str(path), "--out", str(tmp_path / "res"), "--executor", "dask",
                   "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"wsbench: error: scheduler tcp://127.0.0.1:{port}: cannot reach a "
                          f"Dask scheduler there")
    assert not (tmp_path / "res").exists()


def test_cuda_trials_without_a_gpu_worker_are_one_error(cluster, tmp_path):
    exp = _exp(cluster, ["random"], [0], device="cuda")
    with pytest.raises(ConfigError, match="no worker of tcp://.* offers resource GPU"):
        run_experiment(exp, tmp_path / "res", progress=False, log=lambda m: None)
    assert not list((tmp_path / "res" / "trials").iterdir())


def test_the_local_cluster_spawns_workers_with_glibcs_own_malloc_thresholds(monkeypatch):
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_ (2.6x slower evaluations measured here)."""
    from distributed import Client

    # an earlier nanny in this process wrote it into os.environ (Dask does so before spawning)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    from wsbench_plugins.executor_dask import _local_cluster

    with _local_cluster(1) as c, Client(c, set_as_default=False) as client:
        env = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_",
                                                                  "OMP_NUM_THREADS")})
    (worker_env,) = env.values()
    assert worker_env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, as users start them."""
    folder = tmp_path_factory.mktemp("cluster")
    dask, info = Path(sys.executable).parent / "dask", folder / "scheduler.json"
    log = open(folder / "cluster.log", "w")
    start = dict(env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", info, "--idle-timeout", "600"],
                              **start)]
    try:
        _until(lambda: info.exists() and info.stat().st_size, 60, "the scheduler")
        address = json.loads(info.read_text())["address"]
        procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--host",
                                    "127.0.0.1", "--no-dashboard", "--lifetime", "600s",
                                    "--name", f"w{i}"], **start) for i in range(2)]
        yield address, procs
    finally:
        for p in reversed(procs):  # stopped by PID: terminate, then kill what is left
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the group holds only what p started
            except ProcessLookupError:
                pass
            p.wait(timeout=20)
        log.close()


def test_an_experiment_on_a_cluster_started_as_users_do(real_cluster, tmp_path, capsys):
    address, procs = real_cluster
    path, out = tmp_path / "e.toml", tmp_path / "res"
    path.write_text('name = "c"\ntasks = ["digits-cnn"]\nspaces = [{ name = "k", k_max = 12 }]\n'
                    'optimizers = ["random", { name = "nsga2", pop_size = 4 }]\nseeds = 2\n'
                    'budget = 5\nthreads = 1\ndevice = "cpu"\n'
                    f'[run]\nexecutor = "dask"\nscheduler = "{address}"\nworkers = 2\n')
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    assert "4 run, 0 skipped, 0 failed" in capsys.readouterr().out
    recs = _records(out)
    assert len(recs) == 4 and all(r["status"] == "ok" and r["unique"] == 5 for r in recs.values())
    assert len(list((out / "exact").glob("*.json"))) == 1
    # computed by the `dask worker` processes, written here
    assert all("worker" in r["provenance"]["command"] for r in recs.values())
    run = json.loads((out / "run.json").read_text())
    assert run["executor"] == {"name": "dask", "slots": 2, "scheduler": address, "workers": 2}
    assert all(p.poll() is None for p in procs)  # the cluster is still up for the next client
