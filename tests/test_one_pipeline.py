"""`wsbench compress` is a one-trial experiment: the same code path, the same record as `run`."""

from __future__ import annotations

import json

import pytest

import wsbench
from wsbench.cli import main
from wsbench.experiments.records import TrialRecord

VOLATILE = {"seconds", "provenance", "id", "trial"}  # timings; labels name entries differently


def comparable(value):
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


@pytest.mark.usefixtures("one_thread")
def test_compress_writes_the_record_that_run_writes_for_the_same_trial(tmp_path, capsys):
    flags = ["--budget", "20", "--k-min", "2", "--k-max", "64", "--max-drop", "0.01",
             "--max-requested", "400", "--set", "optimizer.pop_size=10"]
    assert main(["compress", *flags, "--no-progress", "--out", str(tmp_path / "c")]) == 0
    (folder,) = (tmp_path / "c").iterdir()
    compressed = json.loads((folder / "trial.json").read_text())
    exp = tmp_path / "one.toml"
    exp.write_text('name = "one"\ntasks = ["digits-cnn"]\n'
                   'spaces = [{ name = "k", k_min = 2, k_max = 64 }]\nquantizers = ["uniform"]\n'
                   'optimizers = [{ name = "nsga2", pop_size = 10 }]\nmerges = ["neighbor"]\n'
                   'seeds = [0]\nbudget = 20\nmax_requested = 400\nmax_drop = 0.01\n'
                   '[exact]\nenabled = false\n')
    assert main(["run", str(exp), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    capsys.readouterr()
    (path,) = (tmp_path / "r" / "trials").glob("*.json")
    ran = json.loads(path.read_text())
    assert compressed["key"] == ran["key"]  # one trial, whichever command names it
    assert comparable(compressed) == comparable(ran)
    assert compressed["status"] == "ok" and compressed["merged"]
    # the table compress printed is the report's Table I builder over that record
    rec = TrialRecord.from_dict(compressed)
    table = (folder / "table.md").read_text()
    assert f"{rec.baseline.val:.4f}" in table and f"UB (K={rec.ub.k})" in table
    crs = [f"{s.cr_paper:.2f}" for s in rec.merged]
    huffman = next(line for line in table.splitlines() if line.startswith("| + Huffman"))
    assert min(crs, key=float) in huffman and max(crs, key=float) in huffman


def test_the_plugin_api_is_exported_from_the_top_package():
    from wsbench.codec.merge import MergeStrategy
    from wsbench.hookspecs import hookimpl
    from wsbench.search.optimizer import Optimizer
    from wsbench.tasks.task import Task

    for name in wsbench.__all__:
        assert getattr(wsbench, name) is not None, name
    assert wsbench.hookimpl is hookimpl and wsbench.Optimizer is Optimizer
    assert wsbench.MergeStrategy is MergeStrategy and wsbench.Task is Task
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        wsbench.nope  # noqa: B018


def test_a_plugin_written_against_the_top_package_runs(tmp_path):
    """Registered in-process with only `wsbench.*` names, used by name, then unregistered."""
    import numpy as np


    class Grid(wsbench.Optimizer):
        def setup(self, problem, seed, budget):
            self.todo = np.linspace(problem.xl[0], problem.xu[0], 5).round()[:, None]

        def ask(self):
            todo, self.todo = self.todo, None
            return todo

        def tell(self, X, F):
            assert F.shape == (len(X), 2)

    class Plugin:
        @wsbench.hookimpl
        def wsbench_register_optimizers(self, register: wsbench.Register) -> None:
            register("grid5", Grid, "five K values")

    plugin = Plugin()
    wsbench.register(plugin, name="grid5-test")
    try:
        assert main(["compress", "--optimizer", "grid5", "--budget", "5", "--k-max", "32",
                     "--merge", "none", "--no-progress", "--out", str(tmp_path)]) == 0
        (folder,) = tmp_path.iterdir()
        rec = json.loads((folder / "trial.json").read_text())
        assert rec["unique"] == 5 and sorted(x[0] for x in rec["archive"]["x"]) == [2, 10, 17, 24, 32]
    finally:
        wsbench.unregister(plugin)
    with pytest.raises(wsbench.PluginError, match="unknown optimizer 'grid5'"):
        wsbench.create("optimizer", "grid5")
