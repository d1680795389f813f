"""The harness's API (reset, space size, merge scorers) and the merge strategies' declarations.

Code outside the harness no longer edits its insides, and merges declare what they need as
attributes: these tests pin what the runner and pipeline rely on.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.codec.merge import MergeResult, MergeStrategy, needs_holdout
from wsbench.experiments.trial import MemoMerge, merge_front
from wsbench.search.fitness import FitnessHarness
from wsbench.search.metrics import macro_f1
from wsbench.search.optimizer import drive
from wsbench.search.problem import CachedProblem
from wsbench.search.splits import stratified_subset

KS = np.array([[2.0], [5.0], [9.0], [5.0]])


def make(data, **options) -> FitnessHarness:
    return FitnessHarness(data, plugins.create("quantizer", "uniform"),
                          plugins.create("space", "k", k_min=2, k_max=64), device="cpu", **options)


class Box(CachedProblem):
    def _evaluate_one(self, x):
        return float(x.sum()), 1.0


# -- reset -------------------------------------------------------------------------------------

def test_reset_forgets_every_evaluation_and_restores_the_weights(digits_cnn):
    shared: dict = {}
    h = FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"),
                       plugins.create("space", "k", k_min=2, k_max=64), device="cpu", cache=shared)
    first = h.evaluate(KS)
    assert (h.requested, h.unique, len(h.archive)) == (4, 3, 4) and len(h.cache) == 3
    h.write_quantization(h.quantization(np.array([3.0])))
    assert not torch.equal(torch.cat([p.detach().flatten() for p in h.view.params]), h.view.original)
    h.reset()
    assert (h.requested, h.unique, h.archive, h.cache) == (0, 0, [], {})
    assert len(shared) == 3  # a cache shared with other harnesses is left to them
    assert torch.equal(torch.cat([p.detach().flatten() for p in h.view.params]), h.view.original)
    # a second search counts from zero and evaluates again (nothing served from the old cache)
    np.testing.assert_array_equal(h.evaluate(KS), first)
    assert (h.requested, h.unique) == (4, 3)
    assert [e.cached for e in h.archive] == [False, False, False, True]
    assert [e.unique_index for e in h.archive] == [1, 2, 3, 3]


def test_reset_lets_a_budgeted_search_run_again():
    p = Box(np.zeros(2), np.full(2, 4.0), np.ones(2, bool))
    drive(plugins.create("optimizer", "random"), p, budget=7, seed=0)
    X1, F1 = p.archive_arrays()
    p.reset()
    drive(plugins.create("optimizer", "random"), p, budget=7, seed=0)
    X2, F2 = p.archive_arrays()
    assert p.unique == 7 and np.array_equal(X1, X2) and np.array_equal(F1, F2)


# -- space size --------------------------------------------------------------------------------

def test_space_size_of_integer_and_other_spaces(digits_harness):
    assert digits_harness.space_size == 63  # K = 2..64
    assert Box(np.array([0.0, 2.0]), np.array([4.0, 3.0]), np.array([True, True])).space_size == 10
    assert Box(np.zeros(2), np.ones(2), np.array([True, False])).space_size == float("inf")
    assert Box(np.zeros(1), np.ones(1), np.array([False])).space_size == float("inf")


def test_exhaustive_and_random_use_the_space_size():
    small = Box(np.zeros(2), np.full(2, 2.0), np.ones(2, bool))  # 9 decisions
    assert plugins.create("optimizer", "exhaustive", max_points=9).check(small) is None
    assert "9 points" in plugins.create("optimizer", "exhaustive", max_points=8).check(small)
    drive(plugins.create("optimizer", "random"), small, budget=100, seed=0)
    assert small.unique == 9  # stops once every decision was seen, budget unspent


# -- merge scorers -----------------------------------------------------------------------------

def _metric_on(h: FitnessHarness, x: torch.Tensor, y: torch.Tensor, screen: bool) -> float:
    h.view.restore()
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if screen else torch.autocast("cpu", enabled=False)
    with torch.inference_mode(), ctx:
        pred = h.model(x).argmax(1)
    return macro_f1(pred, y, h.num_classes)


def test_merge_scorers_without_screening_use_all_of_val_fp32(digits_cnn):
    h = make(digits_cnn)
    score, check = h.merge_scorers(holdout=False)
    assert check is None
    expected = _metric_on(h, digits_cnn.val_x, digits_cnn.val_y, screen=False)
    assert score(h.view.original) == expected == h.score_baseline("val")


def test_holdout_scorers_are_disjoint_stratified_halves_of_the_screened_split(digits_cnn):
    h = make(digits_cnn, fidelity=0.5, fidelity_seed=1, screen_dtype="bfloat16")
    sub_x, sub_y = digits_cnn.val_x[h.subset_index], digits_cnn.val_y[h.subset_index]
    score, _ = h.merge_scorers(holdout=False)
    assert score(h.view.original) == _metric_on(h, sub_x, sub_y, screen=True)
    fit_score, check_score = h.merge_scorers(holdout=True)
    fit = stratified_subset(sub_y, 0.5, 0)
    rest = torch.ones(len(sub_y), dtype=torch.bool)
    rest[fit] = False
    assert 0 < len(fit) < len(sub_y) and int(rest.sum()) == len(sub_y) - len(fit)
    halves = np.bincount(sub_y[fit].numpy(), minlength=10) / np.bincount(sub_y.numpy(), minlength=10)
    assert np.all(np.abs(halves - 0.5) < 0.1)  # class-stratified
    assert fit_score(h.view.original) == _metric_on(h, sub_x[fit], sub_y[fit], screen=True)
    assert check_score(h.view.original) == _metric_on(h, sub_x[rest], sub_y[rest], screen=True)
    # the halves are made once: asking again gives the same scorers' splits
    again, again_check = h.merge_scorers(holdout=True)
    q = h.quantization(np.array([6.0]))
    assert again(q.dequantize()) == fit_score(q.dequantize())
    assert again_check(q.dequantize()) == check_score(q.dequantize())


# -- merge declarations ------------------------------------------------------------------------

def test_builtin_merges_declare_their_needs():
    for name in plugins.names("merge"):
        merger = plugins.create("merge", name)
        assert isinstance(merger, MergeStrategy)
        assert needs_holdout(merger) is (name == "neighbor-holdout")


class Recorder(MergeStrategy):
    """Records whether it was given a held-out scorer."""

    name = "t-recorder"

    def __init__(self) -> None:
        self.checks: list = []

    def merge(self, q, score, check=None):
        self.checks.append(check)
        s = score(q.dequantize())
        return MergeResult(q, 1, s, s)


class HoldoutRecorder(Recorder):
    needs_holdout = True


class Undeclared:
    """A third-party merge that neither subclasses MergeStrategy nor declares anything."""

    name = "t-undeclared"

    def merge(self, q, score):
        s = score(q.dequantize())
        return MergeResult(q, 1, s, s)


@pytest.mark.parametrize("memo", [False, True])
def test_merge_front_gives_check_only_to_strategies_that_declare_it(digits_harness, memo):
    h = digits_harness
    front = [SimpleNamespace(x=(8.0,), quantization=h.quantization(np.array([8.0])))]
    wrap = (lambda m: MemoMerge(m, {})) if memo else (lambda m: m)
    plain, holdout = Recorder(), HoldoutRecorder()
    merge_front(h, front, wrap(plain), "uniform")
    merge_front(h, front, wrap(holdout), "uniform")
    merged, evaluations = merge_front(h, front, wrap(Undeclared()), "uniform")
    assert plain.checks == [None] and len(holdout.checks) == 1 and callable(holdout.checks[0])
    assert evaluations == 1 and merged[0].d == front[0].quantization.d


def test_memo_merge_exposes_what_the_wrapped_merge_declares():
    held = MemoMerge(plugins.create("merge", "neighbor-holdout", tolerance=0.01), {})
    assert held.needs_holdout is True and needs_holdout(held)
    assert held.name == "neighbor-holdout" and held.tolerance == 0.01
    assert needs_holdout(MemoMerge(plugins.create("merge", "neighbor"), {})) is False
    assert needs_holdout(MemoMerge(Undeclared(), {})) is False
    clone = copy.copy(held)  # delegation must not trip copying (no attribute yet on the copy)
    assert clone.needs_holdout is True and clone.seconds == 0.0
