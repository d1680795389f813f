"""Executors (plugin kind ``executor``): the same records whatever runs the trials, bad settings
as one line, a process pool that outlives a killed worker, and the contract a new executor
implements (GPU annotations, failures recorded with their traceback)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from wsbench.cli import main
from wsbench.experiments.executor import Executor
from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from compare_records import compare  # noqa: E402 - the repository's own comparison

HAS_DASK = importlib.util.find_spec("distributed") is not None
SMALL = {"name": "small", "tasks": ["digits-cnn"], "spaces": [{"name": "k", "k_max": 12}],
         "optimizers": ["random", {"name": "nsga2", "pop_size": 4}], "seeds": [0, 1],
         "budget": 6, "threads": 1, "device": "cpu"}
TOML = """name = "small"
tasks = ["digits-cnn"]
spaces = [{ name = "k", k_max = 12 }]
optimizers = ["random"]
budget = 4
device = "cpu"
"""


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "res"
    run_experiment(parse_experiment(SMALL), out, progress=False, log=lambda m: None)
    return out


@pytest.mark.parametrize("executor", [
    "process", pytest.param("dask", marks=pytest.mark.skipif(not HAS_DASK, reason="extra cluster"))])
def test_the_records_do_not_depend_on_the_executor(local_run, tmp_path, executor):
    exp = parse_experiment({**SMALL, "run": {"executor": executor, "workers": 2}})
    summary = run_experiment(exp, tmp_path / "res", progress=False, log=lambda m: None)
    assert summary.ran == 4 and not summary.failed
    same, differ, alone = compare(local_run, tmp_path / "res")
    assert (len(same), differ, alone) == (5, [], [])  # 4 trials and the exact front
    run = json.loads((tmp_path / "res" / "run.json").read_text())
    assert run["executor"]["name"] == executor and run["executor"]["slots"] == 2
    # nothing about the executor enters experiment.json: the folder's experiment is the same
    assert (tmp_path / "res" / "experiment.json").read_bytes() == \
        (local_run / "experiment.json").read_bytes()


@pytest.mark.parametrize("flags, toml, message", [
    (["--workers", "0"], "", "--workers: must be at least 1, got 0"),
    ([], "[run]\nworkers = 0\n", "run.workers: must be at least 1, got 0"),
    (["--executor", "nope"], "", "--executor: unknown executor 'nope'; valid executors: dask, local, process"),
    ([], '[run]\nexecutor = "nope"\n', "run.executor: unknown executor 'nope'"),
    ([], "[run]\nthreads = 2\n", "run.threads: unknown key; valid keys: executor, scheduler, workers"),
    (["--scheduler", "not an address"], "", "--scheduler: must be a scheduler address"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "", "only executor dask connects to a scheduler"),
    (["--workers", "2"], "", "executor local runs one trial at a time"),
    (["--executor", "local"], '[run]\nexecutor = "process"\nworkers = 2\n',
     "workers = 2: executor local runs one trial at a time"),  # a flag overrides the file
])
def test_bad_run_settings_are_one_line_and_nothing_runs(tmp_path, capsys, flags, toml, message):
    path = tmp_path / "e.toml"
    path.write_text(TOML + toml)
    assert main(["run", str(path), "--out", str(tmp_path / "res"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsbench: error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "res").exists()


def test_dask_without_the_extra_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    path = tmp_path / "e.toml"
    path.write_text(TOML)
    assert main(["run", str(path), "--out", str(tmp_path / "res"), "--executor", "dask"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "extra 'cluster'" in err and '".[cluster]"' in err, err


def test_a_process_pool_resubmits_a_task_whose_worker_was_killed(tmp_path):
    from wsbench_plugins.executors import ProcessExecutor

    import cluster_plugins

    marker = tmp_path / "died"
    with ProcessExecutor(workers=2) as ex:
        task = ex.submit(cluster_plugins.die_once, str(marker), key="die-once")
        while task not in ex.wait([task]):
            pass
        pid = task.result()
    assert marker.exists() and task.attempts == 2  # killed once (SIGKILL), then done
    assert isinstance(pid, int) and pid > 0


class _Recorder(Executor):
    """A third-party executor that runs nothing: every task fails, submissions are noted."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict | None]] = []

    def submit(self, fn, *args, key, resources=None):
        from concurrent.futures import Future

        from wsbench.experiments.work import Outcome

        self.calls.append((fn.__name__, resources))
        future: Future = Future()
        future.set_result(Outcome(error="RuntimeError: no GPU here", traceback="Traceback: here\n"))
        return future

    def wait(self, futures):
        return set(futures)


def test_an_executor_gets_gpu_annotations_and_failures_keep_their_traceback(tmp_path):
    exp = parse_experiment({**SMALL, "device": "cuda"})
    recorder = _Recorder()
    summary = run_experiment(exp, tmp_path / "res", progress=False, log=lambda m: None,
                             executor=recorder)
    kinds = {name: res for name, res in recorder.calls}
    assert kinds == {"load_data": None, "exact": {"GPU": 1}, "facts": {"GPU": 1},
                     "trial_record": {"GPU": 1}}
    assert sum(name == "trial_record" for name, _ in recorder.calls) == 4
    assert sum(name == "load_data" for name, _ in recorder.calls) == 1  # shared: once
    assert len(summary.failed) == 4 and summary.ran == 0
    for t in exp.trials():
        rec = json.loads((tmp_path / "res" / "trials" / f"{t.id}.json").read_text())
        assert rec["status"] == "failed" and rec["reason"] == "RuntimeError: no GPU here"
        assert (tmp_path / "res" / "tracebacks" / f"{t.id}.txt").read_text() == "Traceback: here\n"
