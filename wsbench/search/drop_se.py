"""The standard error of a solution's validation drop, kept in its record so that a report can
select with a margin for the noise of one validation split.

A drop measured on 5,000 images is only good to a few tenths of a point; selecting "the largest
CR within 0.5 point" on it picks members whose drop is luck as often as not (RESULTS.md section
6). The error is a paired bootstrap over the split's items (a sequence task's windows), both
models scored on the same resample, seeded: the same solution always gets the same number. It is
vectorised over resamples (each resample's confusion counts are one matrix product), so a front member costs one forward
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


def resampled_confusions(target: np.ndarray, pred: np.ndarray, num_classes: int,
                         weights: np.ndarray) -> np.ndarray:
    """[resamples, C, C] confusion counts (target row, prediction column) of each resample of the
    items; an item of a sequence task (``[N, T]``) brings all its positions."""
    n, c2 = len(target), num_classes * num_classes
    codes = (np.asarray(target).reshape(n, -1).astype(np.int64) * num_classes
             + np.asarray(pred).reshape(n, -1))
    per_item = np.bincount((np.arange(n)[:, None] * c2 + codes).ravel(),
                           minlength=n * c2).reshape(n, c2).astype(np.float64)
    return (weights @ per_item).reshape(len(weights), num_classes, num_classes)


def metric_of_counts(metric: str, cm: np.ndarray) -> np.ndarray:
    """The metric of each confusion matrix in ``cm`` ([..., C, C]): accuracy, or macro F1 over
    the classes present in target or prediction (as :func:`wsbench.search.metrics.macro_f1`)."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    total = cm.sum(axis=(-2, -1))
    if metric == "accuracy":
        return np.divide(tp.sum(-1), total, out=np.zeros_like(total), where=total > 0)
    support, predicted = cm.sum(-1), cm.sum(-2)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    return f1.sum(-1) / np.maximum(present.sum(-1), 1)


def drop_se(metric: str, target: np.ndarray, base: np.ndarray, pred: np.ndarray,
            num_classes: int, resamples: int = RESAMPLES, seed: int = SEED) -> float:
    """Bootstrap SE of ``metric(base) - metric(pred)`` over the same resamples of the items."""
    weights = resample_weights(len(target), resamples, seed)
    a = metric_of_counts(metric, resampled_confusions(target, base, num_classes, weights))
    b = metric_of_counts(metric, resampled_confusions(target, pred, num_classes, weights))
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
            counts = resampled_confusions(target, _numpy(h.predict(split)), h.num_classes, weights)
            self._base[split] = weights, metric_of_counts(h.metric_name, counts)
        return self._base[split]

    def __call__(self, q: "Quantization", split: str = "val") -> float:
        key = f"{q.digest()}/{split}"
        if key not in self._se:
            h = self.h
            weights, base = self._baseline(split)
            h.write_quantization(q)
            counts = resampled_confusions(_numpy(h.splits[split][1]), _numpy(h.predict(split)),
                                          h.num_classes, weights)
            self._se[key] = float(np.std(base - metric_of_counts(h.metric_name, counts), ddof=1))
        return self._se[key]


def _numpy(t: "torch.Tensor") -> np.ndarray:
    return t.detach().cpu().numpy()
