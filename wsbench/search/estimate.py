"""Margin estimates: a candidate's validation score at a fraction of a full evaluation's cost.

Quantizing the weights moves a prediction only where the trained model's two largest logits
are close; elsewhere the candidate predicts what the trained model predicts. So the harness
runs a candidate on the ``share`` of validation images of smallest trained margin, takes the
trained model's predictions for the rest, and scores that: the forward costs ``share`` of a
full evaluation and is charged as such against the budget (:meth:`CachedProblem.charge`).

The estimate is exact when no confident image flips. Where it is not (coarse quantization
moves confident predictions too), an optimizer can see it twice over: each estimate says which
share of the subset's predictions it *moved* (high when the candidate perturbs the model a lot,
the case where confident images flip as well), and every decision evaluated in full gets its
estimate free, computed from the same predictions, so the residual full - estimate is known
wherever it evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from wsbench.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from wsbench.search.fitness import FitnessHarness


class MarginSubset:
    """The ``share`` of a split's images of smallest trained margin, and the trained predictions."""

    def __init__(self, logits: "torch.Tensor", labels: "torch.Tensor", share: float,
                 metric: Callable[["torch.Tensor", "torch.Tensor", int], float], num_classes: int) -> None:
        import torch

        top2 = logits.float().topk(min(2, logits.shape[1]), dim=1).values
        margin = top2[:, 0] - top2[:, -1]
        if margin.ndim > 1:  # a sequence per row: the row's least certain position
            margin = margin.flatten(1).min(1).values
        n = max(1, int(round(share * len(labels))))
        self.rows = torch.sort(torch.argsort(margin, stable=True)[:n]).values
        self.trained = logits.argmax(1)
        self.labels, self.metric, self.num_classes = labels, metric, num_classes
        self.cost = n / len(labels)

    def score(self, pred_rows: "torch.Tensor") -> tuple[float, float]:
        """The metric of the trained predictions with ``pred_rows`` in place on the subset, and
        the share of the subset's predictions that differ from the trained ones."""
        pred = self.trained.clone()
        pred[self.rows] = pred_rows.to(pred.dtype)
        moved = float((pred[self.rows] != self.trained[self.rows]).to(float).mean())
        return self.metric(pred, self.labels, self.num_classes), moved


class Estimates:
    """A harness's margin estimates: subsets per share, full predictions kept, values cached."""

    def __init__(self, harness: "FitnessHarness") -> None:
        self.h = harness
        self.subsets: dict[float, tuple[str, MarginSubset]] = {}
        self.full: dict[tuple, "torch.Tensor"] = {}    # predictions of full evaluations
        self.values: dict[tuple, tuple[float, float]] = {}  # (share, key) -> (score, moved)
        self.sizes: dict[tuple, float] = {}            # decision key -> size objective

    def reset(self) -> None:
        self.full.clear()
        self.values.clear()
        self.sizes.clear()

    def keep(self, key: tuple, pred: "torch.Tensor") -> None:
        """Remember a full evaluation's predictions (2 bytes an image, on the CPU): its estimate
        then costs nothing."""
        import torch

        small = torch.int16 if self.h.num_classes < 2 ** 15 else torch.int32
        self.full[key] = pred.to(small).cpu()

    def subset(self, share: float) -> tuple[str, MarginSubset]:
        """The split name of the margin subset for ``share`` (made once, trained weights)."""
        if share not in self.subsets:
            h = self.h
            split = h.search_split
            x, y = h.splits[split]
            h.view.restore()
            sub = MarginSubset(h.predict(split, screen=True, logits=True), y, share, h._metric,
                               h.num_classes)
            name = f"{split}-margin{share:g}"
            h.splits[name] = (x[sub.rows], y[sub.rows])
            self.subsets[share] = (name, sub)
        return self.subsets[share]

    def __call__(self, X: np.ndarray, share: float) -> np.ndarray:
        """Rows (1 - estimated metric, size, moved share) per decision; new ones are charged."""
        if not (isinstance(share, (int, float)) and 0 < share <= 1):
            raise ConfigError(f"estimate share must be a number in (0, 1], got {share!r}")
        h = self.h
        X = h.repair(X)
        name, sub = self.subset(float(share))
        F = np.empty((len(X), 3))
        try:
            for i, x in enumerate(X):
                key = h._key(x)
                if (share, key) not in self.values:
                    if key in self.full:
                        kept = self.full[key][sub.rows.cpu()]
                        self.values[share, key] = sub.score(kept.to(sub.trained.device))
                    else:
                        q = h.quantization(x)
                        h.write_quantization(q)
                        self.values[share, key] = sub.score(h.predict(name, screen=True))
                        self.sizes[key] = h.size(q)
                        h.charge(sub.cost)
                if key in h.cache:
                    self.sizes[key] = h.cache[key][1]
                elif key not in self.sizes:  # estimated under another share only
                    self.sizes[key] = h.size(h.quantization(x))
                score, moved = self.values[share, key]
                F[i] = (1.0 - score, self.sizes[key], moved)
        finally:
            h.view.restore()
        return F
