"""Test plugins that Dask workers load too (``preload``): a slow optimizer that says where it
runs, and one that raises. Registered in a worker by :func:`dask_setup`, in the test process by
the tests' fixture (never at import: the contract tests would pick them up)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from wsbench import plugins
from wsbench.hookspecs import hookimpl
from wsbench.search.optimizer import Optimizer

NAME = "wsbench-test-cluster"


class Slow(Optimizer):
    """K from the top down, one per ask, ``pause`` seconds each; at its first ask it leaves a
    file ``<seed>-<pid>`` in ``marker_dir``: which process runs which trial."""

    def __init__(self, pause: float = 0.3, marker_dir: str = "") -> None:
        self.pause, self.marker_dir = float(pause), marker_dir

    def setup(self, problem, seed, budget):
        self.k, self.lo, self.seed, self.asks = float(problem.xu[0]), float(problem.xl[0]), seed, 0

    def ask(self):
        if self.asks == 0 and self.marker_dir:
            (Path(self.marker_dir) / f"{self.seed}-{os.getpid()}").touch()
        self.asks += 1
        time.sleep(self.pause)
        if self.k < self.lo:
            return None
        self.k -= 1
        return np.array([[self.k + 1]])

    def tell(self, X, F):
        pass


class Raises(Slow):
    def ask(self):
        raise RuntimeError("plugin exploded on purpose")


class _Plugin:
    @hookimpl
    def wsbench_register_optimizers(self, register):
        register("t-slow", Slow, "test: slow, leaves a marker per trial")
        register("t-raises", Raises, "test: raises in ask")


def register() -> None:
    plugins.register(_Plugin(), name=NAME)


def unregister() -> None:
    plugins.unregister(name=NAME)


def dask_setup(worker=None) -> None:
    """Dask's preload hook: the worker's registry gets the test plugins."""
    if plugins.pm.get_plugin(NAME) is None:
        register()


def die_once(marker: str) -> int:
    """Killed (SIGKILL) at the first call, the pid at the next: a worker that dies mid-task."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()
