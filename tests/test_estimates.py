"""Margin estimates (wsbench/search/estimate.py): what they compute, what they cost, and how
frontier, the budget and the anytime views count them (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_optimizers import L_FRONT, Problem, l_front_objectives

from wsbench import plugins
from wsbench.errors import ConfigError
from wsbench.experiments.indicators import (
    Reference,
    hv2d,
    on_cost_axis,
    trial_indicators,
)
from wsbench.experiments.records import Archive
from wsbench.search.metrics import macro_f1
from wsbench.search.optimizer import drive


def test_an_estimate_is_the_trained_predictions_with_the_least_sure_images_rescored(digits_harness):
    """Recomputed here from the model's own outputs: the share of validation images of smallest
    top-two logit margin gets the candidate's predictions, the rest keep the trained ones."""
    h = digits_harness
    x, y = h.splits["val"]
    with torch.inference_mode():
        logits = h.model(x)
    top2 = logits.topk(2, dim=1).values
    n = int(round(0.25 * len(y)))
    rows = torch.argsort(top2[:, 0] - top2[:, 1], stable=True)[:n]
    trained = logits.argmax(1)
    F = h.estimate(np.array([[5.0], [40.0]]), share=0.25)
    for k, (f1, d, moved) in zip((5, 40), F):
        h.write_quantization(h.quantization(np.array([float(k)])))
        with torch.inference_mode():
            cand = h.model(x).argmax(1)
        h.view.restore()
        pred = trained.clone()
        pred[rows] = cand[rows]
        assert f1 == pytest.approx(1 - macro_f1(pred, y, h.num_classes), abs=1e-12)
        assert moved == pytest.approx(float((cand[rows] != trained[rows]).float().mean()))
        assert d == h.size(h.quantization(np.array([float(k)])))
    assert h.charged == pytest.approx(2 * n / len(y))  # each new estimate costs its share
    assert h.unique == 0 and not h.archive             # and is no evaluation


def test_an_estimate_on_all_images_is_the_full_score(digits_harness):
    X = np.array([[3.0], [12.0], [60.0]])
    F_est = digits_harness.estimate(X, share=1.0)
    np.testing.assert_allclose(F_est[:, :2], digits_harness.evaluate(X), atol=1e-12)


def test_the_estimate_of_an_evaluated_decision_is_free_and_the_same(digits_cnn):
    from wsbench.search.fitness import FitnessHarness

    def harness():
        return FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"),
                              plugins.create("space", "k", k_min=2, k_max=64), device="cpu")

    X = np.array([[4.0], [9.0], [33.0]])
    fresh = harness().estimate(X, share=0.1)
    h = harness()
    h.evaluate(X)
    np.testing.assert_allclose(h.estimate(X, share=0.1), fresh, atol=1e-12)
    assert h.charged == 0.0 and h.spent == 3
    h.reset()  # a new search forgets the kept predictions and the charges
    h.estimate(X[:1], share=0.1)
    assert h.charged > 0 and h.spent == h.charged


@pytest.mark.parametrize("share", [0, -0.1, 1.5, "a"])
def test_a_bad_estimate_share_is_one_clear_error(digits_harness, share):
    with pytest.raises(ConfigError, match="estimate share"):
        digits_harness.estimate(np.array([[8.0]]), share=share)


@pytest.mark.parametrize("option", [{"estimate_share": 1.0}, {"estimate_share": -0.5},
                                    {"estimate_batch": 0}])
def test_frontier_bad_estimate_options_are_one_clear_error(option):
    with pytest.raises(ConfigError):
        plugins.create("optimizer", "frontier", **option)


class EstimatedProblem(Problem):
    """The L-shaped landscape with an exact estimate at a tenth of an evaluation's cost."""

    def estimate(self, X, share):
        out = []
        for x in self.repair(X):
            key = self._key(x)
            if key not in self.cache:
                self.charge(share)
            out.append((*self.f(x), 0.0))
        return np.array(out)


def test_frontier_finds_a_lone_far_point_by_estimates_and_pays_for_them():
    """The last front point sits alone at d = 73 after a flat stretch: sweeping the stretch with
    full evaluations cannot reach it in 40, estimates at 0.1 each do, within the budget."""
    F = l_front_objectives()
    ref = Reference()
    exact = hv2d(ref.normalise(np.array([(f, d) for d, f in L_FRONT])), (1.0, 1.0))
    reached = {}
    for share in (0.0, 0.1):
        p = EstimatedProblem(lambda x: tuple(F[int(x[0]) - 2]))
        drive(plugins.create("optimizer", "frontier", estimate_share=share), p, budget=40, seed=0)
        assert p.spent <= 40 + 1e-9
        assert (p.charged > 0) == (share > 0)
        reached[share] = hv2d(ref.normalise(p.archive_arrays()[1]), (1.0, 1.0)) >= exact * (1 - 1e-9)
        cost = [e.cost for e in p.archive]
        assert cost == sorted(cost) and cost[-1] <= p.spent
    assert reached == {0.0: False, 0.1: True}


def test_frontier_without_an_estimating_problem_runs_as_before():
    F = l_front_objectives()
    runs = []
    for share in (0.0, 0.1):
        p = Problem(lambda x: tuple(F[int(x[0]) - 2]))  # no estimate(): nothing to screen with
        drive(plugins.create("optimizer", "frontier", estimate_share=share), p, budget=25, seed=0)
        runs.append(p.archive_arrays()[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_the_cost_axis_counts_estimates_and_leaves_plain_curves_alone():
    curve = np.array([0.1, 0.5, 0.7])
    np.testing.assert_array_equal(on_cost_axis(curve, np.array([1.0, 2.0, 3.0])), curve)
    # evaluations done at 1, 2.5 and 2.7 evaluations spent: within budget 2 only the first
    np.testing.assert_array_equal(on_cost_axis(curve, np.array([1.0, 2.5, 2.7])), [0.1, 0.1, 0.7])
    np.testing.assert_array_equal(on_cost_axis(curve, np.array([1.4, 1.6, 3.2])), [0.0, 0.5, 0.5, 0.7])


def test_indicators_count_evaluations_to_a_target_at_their_cost():
    f = [[0.5, 4.0], [0.2, 8.0], [0.1, 16.0]]
    record = {"status": "ok", "trial": {}, "baseline": {"val": 0.9, "test": 0.9},
              "requested": 3, "unique": 3, "charged": 3.6, "merged": [], "merge_evaluations": 0,
              "seconds": {"search": 1.0, "total": 1.0},
              "archive": {"f": f, "cached": [False] * 3, "unique_index": [1, 2, 3],
                          "cost": [1.0, 3.2, 6.6]}}
    ref = Reference()
    exact = {"front_f": f}
    row = trial_indicators(record, ref, exact, drops=[])
    assert row["evals_to_100"] == 7.0  # the third evaluation was done at 6.6 evaluations spent
    assert row["charged"] == 3.6
    plain = dict(record, archive={k: v for k, v in record["archive"].items() if k != "cost"})
    assert trial_indicators(plain, ref, exact, drops=[])["evals_to_100"] == 3.0


def test_the_archive_writes_costs_only_when_estimates_made_them_differ():
    a = Archive([[2.0]], [[0.5, 2.0]], [False], [0.1], [1], [1.0])
    assert "cost" not in a.to_dict()
    b = Archive([[2.0]], [[0.5, 2.0]], [False], [0.1], [1], [1.3])
    assert Archive.from_dict(b.to_dict()).cost == [1.3]
    assert Archive.from_dict(a.to_dict()).cost == [1.0]
