"""The standard error of a validation drop (wsbench.search.drop_se), the one-standard-error
selection it serves (wsbench.experiments.indicators.best_at_drop), and the record that keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.experiments.stats import paired_bootstrap_se
from wsbench.search.drop_se import drop_se, metric_of_counts


def _metric(name: str, num_classes: int):
    """The metric as the harness computes it, on torch tensors (an independent implementation)."""
    import torch

    from wsbench.search.metrics import get_metric

    f = get_metric(name)
    return lambda p, t: f(torch.as_tensor(p), torch.as_tensor(t), num_classes)


@pytest.mark.parametrize("shape,classes", [((800,), 10), ((40, 16), 7)])
@pytest.mark.parametrize("metric", ["f1", "accuracy"])
def test_the_vectorised_bootstrap_draws_the_resamples_of_the_generic_one(shape, classes, metric):
    rng = np.random.default_rng(1)
    target = rng.integers(0, classes, shape)
    base = np.where(rng.random(shape) < 0.8, target, rng.integers(0, classes, shape))
    pred = np.where(rng.random(shape) < 0.9, base, rng.integers(0, classes, shape))
    generic = paired_bootstrap_se(_metric(metric, classes), target, base, pred, resamples=200)
    assert generic > 0
    assert drop_se(metric, target, base, pred, classes, resamples=200) == pytest.approx(generic, rel=1e-9)
    assert drop_se(metric, target, base, base.copy(), classes) == 0.0


def test_metrics_of_per_class_counts_by_hand():
    from wsbench.search.drop_se import resampled_counts

    # targets 0 0 0 0, predictions 0 0 0 1: class 0 has tp 3, support 4, predicted 3; class 1
    # tp 0, support 0, predicted 1
    counts = resampled_counts(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 1]), 2, np.ones((1, 4)))
    np.testing.assert_array_equal(counts[0], [[3, 0], [4, 0], [3, 1]])
    assert metric_of_counts("accuracy", counts)[0] == pytest.approx(0.75)
    assert metric_of_counts("f1", counts)[0] == pytest.approx((6 / 7 + 0) / 2)  # 2*3 / (4+3)
    absent = np.array([[[2, 0, 1], [2, 0, 1], [2, 0, 1]]])  # class 1 nowhere: left out of F1
    assert metric_of_counts("f1", absent)[0] == pytest.approx(1.0)
    # a resample that draws item 3 twice and item 0 not at all
    twice = resampled_counts(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 1]), 2,
                             np.array([[0.0, 1, 1, 2]]))
    np.testing.assert_array_equal(twice[0], [[2, 0], [4, 0], [2, 2]])


def test_the_one_standard_error_rule_passes_over_members_within_the_drop_by_luck():
    from wsbench.experiments.indicators import best_at_drop

    sols = [{"val": 0.896, "val_se": 0.003, "cr_paper": 12.0, "cr_file": 11.0},  # drop .004 + .003
            {"val": 0.898, "val_se": 0.001, "cr_paper": 10.0, "cr_file": 9.5},   # drop .002 + .001
            {"val": 0.900, "val_se": 0.0, "cr_paper": 4.0, "cr_file": 3.9}]
    assert best_at_drop(sols, 0.900, 0.005)["cr_paper"] == 12.0
    assert best_at_drop(sols, 0.900, 0.005, one_se=True)["cr_paper"] == 10.0
    assert best_at_drop(sols, 0.900, 0.002, one_se=True)["cr_paper"] == 4.0


def test_a_solution_keeps_its_error_through_its_record_and_older_records_still_read():
    from wsbench.experiments.records import Solution

    data = {"x": [8.0], "k": 8, "d": 8, "val": 0.9, "test": 0.8, "bits_fixed": 3.0,
            "bits_huffman": 2.5, "cr_paper": 12.8, "cr_file": 10.0, "cr_paper_fixed": 10.7}
    old = Solution.from_dict(data)
    assert old.val_se is None and "val_se" not in old.to_dict()
    new = Solution.from_dict({**data, "val_se": 0.0021})
    assert new.val_se == 0.0021 and Solution.from_dict(new.to_dict()) == new


def test_a_scored_solution_carries_the_bootstrap_error_of_its_predictions():
    """Through the harness: the error equals the generic bootstrap on the harness's own
    predictions of the trained and the quantized model."""
    from wsbench import plugins
    from wsbench.experiments.trial import score_solution
    from wsbench.search.fitness import FitnessHarness

    data = plugins.create("task", "digits-mlp").load(progress=False)
    h = FitnessHarness(data, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       device="cpu")
    q = h.quantizer.quantize(h.view.original, 5)
    s = score_solution(h, "uniform", "front", [5.0], q)
    h.view.restore()
    base = h.predict("val").numpy()
    h.write_quantization(q)
    pred = h.predict("val").numpy()
    h.view.restore()
    y = h.splits["val"][1].numpy()
    assert (pred != base).any()
    expected = paired_bootstrap_se(_metric("f1", h.num_classes), y, base, pred)
    assert s.val_se == pytest.approx(expected, rel=1e-9) and s.val_se > 0


def test_the_error_reuses_the_predictions_the_harness_scored_with():
    """Scoring a member costs one validation and one test forward, the error included."""
    from wsbench import plugins
    from wsbench.experiments.trial import score_solution
    from wsbench.search.fitness import FitnessHarness

    data = plugins.create("task", "digits-mlp").load(progress=False)
    h = FitnessHarness(data, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       device="cpu")
    score_solution(h, "uniform", "front", [6.0], h.quantizer.quantize(h.view.original, 6))
    calls = []
    predict = h.predict
    h.predict = lambda split="val", *a, **k: calls.append(split) or predict(split, *a, **k)
    s = score_solution(h, "uniform", "front", [5.0], h.quantizer.quantize(h.view.original, 5))
    assert sorted(calls) == ["test", "val"] and s.val_se > 0
