"""Shared fixtures: an isolated cache per test session and the trained digits task."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep trained models and datasets out of the user's cache; train digits once per session."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WSBENCH_CACHE", str(tmp_path_factory.mktemp("wsbench-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def _digits_cnn_trained():
    from wsbench import plugins

    return plugins.create("task", "digits-cnn").load(progress=False)


@pytest.fixture
def digits_cnn(_digits_cnn_trained):
    """The default task's trained model and splits, a fresh copy per test (harnesses write
    quantized weights into the model they are given)."""
    import copy
    import dataclasses

    return dataclasses.replace(_digits_cnn_trained, model=copy.deepcopy(_digits_cnn_trained.model))


@pytest.fixture
def digits_harness(digits_cnn):
    from wsbench import plugins
    from wsbench.search.fitness import FitnessHarness

    return FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"),
                          plugins.create("space", "k", k_min=2, k_max=64), device="cpu")


@pytest.fixture
def one_thread():
    """One torch thread: on a small shared CPU machine more only contend (same results),
    and bit-identical runs need a fixed count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_search(monkeypatch):
    """Fail the test if anything gets as far as loading a task or a search."""
    import wsbench.experiments.trial
    import wsbench.search.optimizer

    def refuse(*a, **k):
        raise AssertionError("the work started")

    monkeypatch.setattr(wsbench.experiments.trial, "build_harness", refuse)
    monkeypatch.setattr(wsbench.search.optimizer, "drive", refuse)
