"""Third-party optimizers: the example package installed for real, and in-process plugins."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wsbench import plugins
from wsbench.cli import main
from wsbench.errors import PluginError
from wsbench.hookspecs import hookimpl
from wsbench.search.optimizer import drive
from wsbench.search.problem import CachedProblem

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wsbench-example-optimizer"


class Problem(CachedProblem):
    def __init__(self) -> None:
        super().__init__(np.array([2.0]), np.array([256.0]), np.array([True]))

    def _evaluate_one(self, x):
        return 0.02 + np.exp(-x[0] / 20.0), float(x[0])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``pip install --target`` of a copy of the example (offline: no deps, no isolation)."""
    root = tmp_path_factory.mktemp("example")
    src = shutil.copytree(EXAMPLE, root / "src")  # keep build leftovers out of the repository
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(src)],
                   check=True, capture_output=True, text=True, timeout=300)
    return target


def _cli(target: Path, *argv: str) -> subprocess.CompletedProcess:
    # one torch thread: on a small, shared CPU machine two threads only contend (same results)
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "wsbench.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=300)


def test_installed_example_is_listed_with_its_distribution(installed):
    done = _cli(installed, "plugins", "--kind", "optimizer")
    assert done.returncode == 0, done.stderr
    line = next(l for l in done.stdout.splitlines() if "example-hillclimb" in l)
    assert "wsbench-example-optimizer" in line and "optimizer" in line
    assert "example-hillclimb" not in plugins.names("optimizer")  # not installed in this process


def test_installed_example_compresses_a_model(installed, tmp_path):
    done = _cli(installed, "compress", "--optimizer", "example-hillclimb", "--budget", "20",
                "--k-max", "64", "--merge", "none", "--set", "task.epochs=1", "--no-progress",
                "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "20 unique" in done.stdout
    runs = list(tmp_path.iterdir())
    assert len(runs) == 1 and "example-hillclimb" in runs[0].name and (runs[0] / "run.json").exists()


@pytest.fixture
def example_in_process():
    """The example's module loaded from its file and registered in-process, then removed."""
    spec = importlib.util.spec_from_file_location("wsbench_example_inproc",
                                                  EXAMPLE / "wsbench_example_optimizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugins.register(module, name="example-in-process")
    try:
        yield module
    finally:
        plugins.unregister(name="example-in-process")


def test_in_process_plugin_is_listed_and_driven(example_in_process, capsys):
    assert "example-hillclimb" in plugins.names("optimizer")
    assert main(["plugins", "--kind", "optimizer"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if "example-hillclimb" in l)
    assert "example-in-process" in line

    def run(seed):
        p = Problem()
        drive(plugins.create("optimizer", "example-hillclimb", batch_size=8), p, budget=40, seed=seed)
        return p

    a, b = run(1), run(1)
    assert 1 <= a.unique <= 40
    assert [e.x for e in a.archive] == [e.x for e in b.archive]
    assert all(2 <= e.x[0] <= 256 for e in a.archive)


def test_unregistered_plugin_is_gone(example_in_process):
    plugins.unregister(name="example-in-process")
    with pytest.raises(PluginError, match="unknown optimizer 'example-hillclimb'"):
        plugins.create("optimizer", "example-hillclimb")
    plugins.register(example_in_process, name="example-in-process")  # for the fixture's cleanup


def test_duplicate_optimizer_name_names_both_providers():
    class Clash:
        @hookimpl
        def wsbench_register_optimizers(self, register):
            register("nsga2", object, "clash")

    plugins.register(Clash(), name="clashing-optimizers")
    try:
        with pytest.raises(PluginError, match="optimizer 'nsga2' is provided twice: by wsbench and by "
                                              "clashing-optimizers"):
            plugins.registry()
    finally:
        plugins.unregister(name="clashing-optimizers")
    assert plugins.get("optimizer", "nsga2").provider == "wsbench"


def test_writing_a_plugin_doc_quotes_the_example_verbatim():
    doc = (EXAMPLE.parents[1] / "README.md").read_text()
    for name in ("pyproject.toml", "wsbench_example_optimizer.py"):
        assert (EXAMPLE / name).read_text() in doc, f"README.md's Writing a plugin section is out of date: {name}"
