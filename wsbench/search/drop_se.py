"""The standard error of a solution's validation drop, kept in its record so that a report can
select with a margin for the noise of one validation split.

A drop measured on 5,000 images is only good to a few tenths of a point; selecting "the largest
CR within 0.5 point" on it picks members whose drop is luck as often as not (RESULTS.md section
6). The error is a paired bootstrap over the split's items (a sequence task's windows), both
models scored on the same resample, seeded: the same solution always gets the same number. It is
vectorised over resamples (each resample's per-class counts are one matrix product), so a front member costs one forward
pass and milliseconds, not a thousand metric calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantization
    from wsbench.search.fitness import FitnessHarness

RESAMPLES = 1000  # bootstrap resamples per solution: the error of the error is then ~2%
SEED = 0


def resample_weights(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, n]: how often each item is drawn in each resample. The draws are those of
    :func:`wsbench.experiments.stats.paired_bootstrap_se` (one row of n per resample, in order),
    so both give the same resamples."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((resamples, n))
    for row in weights:
        row += np.bincount(rng.integers(0, n, n), minlength=n) if n else 0
    return weights


def resampled_counts(target: np.ndarray, pred: np.ndarray, num_classes: int,
                     weights: np.ndarray) -> np.ndarray:
    """[resamples, 3, C]: per class, the true positives, the support (target) and the predicted
    count of each resample of the items: all that accuracy and macro F1 need, at 3C numbers an
    item instead of a C x C confusion matrix. An item of a sequence task (``[N, T]``) brings
    all its positions."""
    n, c = len(target), num_classes
    t = np.asarray(target).reshape(n, -1).astype(np.int64)
    p = np.asarray(pred).reshape(n, -1).astype(np.int64)
    rows = np.arange(n)[:, None] * 3 * c
    hits = np.where(t == p, rows + t, -1)  # a true positive counts for its class; -1: none
    codes = np.concatenate([hits, rows + c + t, rows + 2 * c + p], axis=1).ravel()
    per_item = np.bincount(codes[codes >= 0], minlength=n * 3 * c).reshape(n, 3 * c)
    return (weights @ per_item.astype(np.float64)).reshape(len(weights), 3, c)


def metric_of_counts(metric: str, counts: np.ndarray) -> np.ndarray:
    """The metric of each ``[..., 3, C]`` (true positives, support, predicted) in ``counts``:
    accuracy, or macro F1 over the classes present in target or prediction (as
    :func:`wsbench.search.metrics.macro_f1`)."""
    tp, support, predicted = (counts[..., k, :].astype(np.float64) for k in range(3))
    if metric == "accuracy":
        total = support.sum(-1)
        return np.divide(tp.sum(-1), total, out=np.zeros_like(total), where=total > 0)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    return f1.sum(-1) / np.maximum(present.sum(-1), 1)


def drop_se(metric: str, target: np.ndarray, base: np.ndarray, pred: np.ndarray,
            num_classes: int, resamples: int = RESAMPLES, seed: int = SEED) -> float:
    """Bootstrap SE of ``metric(base) - metric(pred)`` over the same resamples of the items."""
    weights = resample_weights(len(target), resamples, seed)
    a = metric_of_counts(metric, resampled_counts(target, base, num_classes, weights))
    b = metric_of_counts(metric, resampled_counts(target, pred, num_classes, weights))
    return float(np.std(a - b, ddof=1))


class DropErrors:
    """Per quantization (by content), the SE of its full-split validation drop from the trained
    model. The resamples and the trained model's metric on each are computed once per split."""

    def __init__(self, harness: "FitnessHarness") -> None:
        self.h = harness
        self._base: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # split -> (weights, metric)
        self._se: dict[str, float] = {}

    def _baseline(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split not in self._base:
            h = self.h
            h.view.restore()
            target = _numpy(h.splits[split][1])
            weights = resample_weights(len(target))
            counts = resampled_counts(target, _numpy(h.predict(split)), h.num_classes, weights)
            self._base[split] = weights, metric_of_counts(h.metric_name, counts)
        return self._base[split]

    def __call__(self, q: "Quantization", split: str = "val") -> float:
        key = f"{q.digest()}/{split}"
        if key not in self._se:
            h = self.h
            weights, base = self._baseline(split)
            scored, pred = h.last_predictions
            if scored != (q.digest(), split):  # not just scored by the harness: predict it
                h.write_quantization(q)
                pred = h.predict(split)
            counts = resampled_counts(_numpy(h.splits[split][1]), _numpy(pred), h.num_classes,
                                      weights)
            self._se[key] = float(np.std(base - metric_of_counts(h.metric_name, counts), ddof=1))
        return self._se[key]


def _numpy(t: "torch.Tensor") -> np.ndarray:
    return t.detach().cpu().numpy()
