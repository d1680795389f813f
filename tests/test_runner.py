"""The experiment runner: one file per trial, skip on rerun, skips, failures, interruptions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wsbench import plugins
from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment
from wsbench.experiments.store import finished_keys
from wsbench.hookspecs import hookimpl
from wsbench.search.optimizer import Optimizer

K_MAX = 20  # space k in [2, 20]: 19 decisions, the exact front costs 19 evaluations


class Sweep(Optimizer):
    """Test optimizer: K from the top down, two at a time, each batch asked twice (repeats)."""

    interrupt_at: int | None = None  # raise KeyboardInterrupt at this ask (class-level switch)

    def setup(self, problem, seed, budget):
        self.k, self.asks, self.lo = float(problem.xu[0]), 0, float(problem.xl[0])

    def ask(self):
        self.asks += 1
        if Sweep.interrupt_at is not None and self.asks >= Sweep.interrupt_at:
            raise KeyboardInterrupt
        if self.k < self.lo:
            return None
        ks = [self.k, self.k - 1] if self.asks % 2 else [self.k + 1, self.k]
        if self.asks % 2 == 0:
            self.k -= 2
        return np.array(ks, dtype=float)[:, None]

    def tell(self, X, F):
        pass


class Refuses(Sweep):
    def check(self, problem):
        return "needs a continuous space"


class Breaks(Sweep):
    def ask(self):
        raise RuntimeError("optimizer exploded")


class _Plugin:
    @hookimpl
    def wsbench_register_optimizers(self, register):
        register("t-sweep", Sweep, "test")
        register("t-refuses", Refuses, "test")
        register("t-breaks", Breaks, "test")


@pytest.fixture(autouse=True)
def test_optimizers():
    plugins.register(_Plugin(), name="wsbench-test-runner")
    Sweep.interrupt_at = None
    yield
    plugins.unregister(name="wsbench-test-runner")
    Sweep.interrupt_at = None


def _exp(**over):
    cfg = {"name": "t", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": K_MAX}],
           "optimizers": ["exhaustive", {"name": "nsga2", "pop_size": 4}, "t-sweep"],
           "seeds": [0, 1], "budget": 8, "max_requested": 200, "threads": 1, "device": "cpu"}
    return parse_experiment({**cfg, **over}, source="test.toml")


@pytest.fixture
def count_evaluations(monkeypatch):
    from wsbench.search.fitness import FitnessHarness

    calls = []
    original = FitnessHarness._evaluate_one

    def counted(self, x):
        calls.append(tuple(x))
        return original(self, x)

    monkeypatch.setattr(FitnessHarness, "_evaluate_one", counted)
    return calls


def _records(out):
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))}


def test_one_file_per_trial_then_rerun_evaluates_nothing(tmp_path, count_evaluations):
    exp = _exp()
    out = tmp_path / "res"
    summary = run_experiment(exp, out, progress=False, log=lambda m: None)
    recs = _records(out)
    trials = exp.trials()
    assert summary.ran == len(trials) == len(recs) == 6
    assert {r["key"] for r in recs.values()} == {t.key for t in trials}
    assert set(recs) == {f"{t.id}.json" for t in trials}
    for r in recs.values():
        assert r["status"] == "ok"
        arch = r["archive"]
        assert len(arch["x"]) == r["requested"] == len(arch["f"])
        # the budget is in the trial's own unique evaluations, although the shared harness
        # has already evaluated the whole space for the exact front
        assert r["unique"] == sum(not c for c in arch["cached"]) <= 8
        assert arch["unique_index"][-1] == r["unique"]
        assert r["merged"] and all(m["val"] >= f["val"] - 1e-12 for f, m in zip(r["front"], r["merged"]))
        assert all(m["d"] <= f["d"] for f, m in zip(r["front"], r["merged"]))
    sweep = [r for r in recs.values() if r["trial"]["optimizer"]["name"] == "t-sweep"][0]
    assert sweep["unique"] == 8 and sweep["requested"] > 8  # repeats are archived as cached
    assert [x[0] for x, c in zip(sweep["archive"]["x"], sweep["archive"]["cached"]) if not c] == \
        [20.0, 19.0, 18.0, 17.0, 16.0, 15.0, 14.0, 13.0]
    exact = [json.loads(p.read_text()) for p in (out / "exact").glob("*.json")]
    assert len(exact) == 1 and exact[0]["status"] == "ok" and exact[0]["points"] == K_MAX - 1
    assert len(exact[0]["f"]) == K_MAX - 1
    for name in ("experiment.json", "experiment.toml", "reference.json", "run.json"):
        assert (out / name).exists() or (name == "experiment.toml" and not exp.source)
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and run["git"] and run["versions"]["torch"]
    assert run["machine"]["torch_threads"] == 1  # the experiment's threads, restored afterwards
    assert len(list((out / "runs").glob("*.json"))) == 1
    ref = json.loads((out / "reference.json").read_text())["tasks"]["digits-mlp"]
    assert ref["ref_point"] == [1.0, 1.0] and ref["d_scale"] == "log2"
    n_first = len(count_evaluations)
    assert n_first >= 6 * 8 + (K_MAX - 1)

    again = run_experiment(_exp(), out, progress=False, log=lambda m: None)
    assert len(count_evaluations) == n_first  # nothing evaluated: not the search, exact or merge
    assert again.ran == 0 and again.already_done == 6 and again.evaluations == 0
    assert _records(out) == recs
    assert len(list((out / "runs").glob("*.json"))) == 2  # the first run's provenance is kept


def test_refused_pairs_are_skipped_and_failures_recorded(tmp_path):
    exp = _exp(optimizers=["t-refuses", "t-breaks", "exhaustive"], seeds=[0])
    out = tmp_path / "res"
    messages = []
    summary = run_experiment(exp, out, progress=False, log=messages.append)
    status = {r["trial"]["optimizer"]["name"]: r for r in _records(out).values()}
    assert status["t-refuses"]["status"] == "skipped"
    assert status["t-refuses"]["reason"] == "needs a continuous space"
    assert status["t-breaks"]["status"] == "failed" and "optimizer exploded" in status["t-breaks"]["reason"]
    assert status["exhaustive"]["status"] == "ok"  # the others still ran
    assert len(summary.skipped) == 1 and len(summary.failed) == 1 and summary.ran == 1
    assert any("skipped t-refuses" in m and "continuous" in m for m in messages)
    assert finished_keys(out) == {status["exhaustive"]["key"]}  # only ok trials count as done


def test_interrupted_trial_leaves_no_complete_looking_file(tmp_path):
    exp = _exp(optimizers=["exhaustive", "t-sweep"], seeds=[0])
    out = tmp_path / "res"
    Sweep.interrupt_at = 3
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, out, progress=False, log=lambda m: None)
    files = sorted(p.name for p in (out / "trials").iterdir())
    done = [t for t in exp.trials() if t.optimizer.name == "exhaustive"]
    assert files == [f"{done[0].id}.json"]  # no temp file, no partial record of t-sweep
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    Sweep.interrupt_at = None
    summary = run_experiment(exp, out, progress=False, log=lambda m: None)
    assert summary.already_done == 1 and summary.ran == 1
    assert len(list((out / "trials").iterdir())) == 2


def test_optimizer_seed_reproduces_the_trial(tmp_path):
    exp = _exp(optimizers=[{"name": "nsga2", "pop_size": 4}], seeds=[5], exact={"enabled": False})
    a = run_experiment(exp, tmp_path / "a", progress=False, log=lambda m: None)
    b = run_experiment(exp, tmp_path / "b", progress=False, log=lambda m: None)
    ra, rb = (list(_records(s.out).values())[0] for s in (a, b))
    assert ra["archive"]["x"] == rb["archive"]["x"] and ra["archive"]["f"] == rb["archive"]["f"]
    assert ra["merged"] == rb["merged"]
    assert not (tmp_path / "a" / "exact").exists()


def test_rerun_refuses_trials_made_with_other_trained_weights(tmp_path):
    from wsbench.errors import ConfigError

    exp = _exp(optimizers=["t-sweep"], seeds=[0], exact={"enabled": False})
    out = tmp_path / "res"
    run_experiment(exp, out, progress=False, log=lambda m: None)
    (path,) = (out / "trials").glob("*.json")
    rec = json.loads(path.read_text())
    assert len(rec["model"]) == 16
    rec["model"] = "0" * 16  # as if the task's checkpoint had been replaced since
    path.write_text(json.dumps(rec))
    with pytest.raises(ConfigError, match="other trained weights"):
        run_experiment(_exp(optimizers=["t-sweep"], seeds=[0, 1], exact={"enabled": False}), out,
                       progress=False, log=lambda m: None)
    assert [p.name for p in (out / "trials").glob("*.json")] == [path.name]  # nothing added
