"""The common fitness harness: decision -> quantized weights -> validation metric and d.

Validation and test tensors live on the model's device; weights are written back into the
existing parameters (no model copy per evaluation); the forward runs under inference_mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from wsbench.metrics import get_metric
from wsbench.problem import CachedProblem
from wsbench.weights import Include, WeightView

if TYPE_CHECKING:
    import torch

    from wsbench.quantization import Quantization, Quantizer
    from wsbench.space import Space
    from wsbench.task import TaskData


def resolve_device(device: str | None = None) -> "torch.device":
    """``None``/``"auto"``: CUDA when there is one, else CPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class FitnessHarness(CachedProblem):
    """Objectives f1 = 1 - metric on validation, f2 = d (number of shared values)."""

    def __init__(self, data: "TaskData", quantizer: "Quantizer", space: "Space", *,
                 metric: str = "f1", include: Include = "conv-linear", device: str | None = None,
                 batch_size: int = 2048, cache: dict | None = None, cache_prefix: tuple = ()) -> None:
        self.device = resolve_device(device)
        self.model = data.model.to(self.device).eval()
        self.view = WeightView.of(self.model, include)
        self.quantizer = quantizer
        self.space = space
        space.bind(self.view)
        self.metric_name = metric
        self._metric = get_metric(metric)
        self.num_classes = data.num_classes
        self.batch_size = batch_size
        self.splits = {
            "val": (data.val_x.to(self.device), data.val_y.to(self.device)),
            "test": (data.test_x.to(self.device), data.test_y.to(self.device)),
        }
        super().__init__(space.xl, space.xu, space.integer, cache, cache_prefix)

    # -- scoring -------------------------------------------------------------------------
    def predict(self, split: str = "val") -> "torch.Tensor":
        import torch

        x, _ = self.splits[split]
        with torch.inference_mode():
            return torch.cat([self.model(x[i:i + self.batch_size]).argmax(1)
                              for i in range(0, len(x), self.batch_size)])

    def score_current(self, split: str = "val") -> float:
        """The metric of the model's weights as they are now."""
        return self._metric(self.predict(split), self.splits[split][1], self.num_classes)

    def score_weights(self, flat: "torch.Tensor", split: str = "val") -> float:
        self.view.write(flat)
        return self.score_current(split)

    def score_quantization(self, q: "Quantization", split: str = "val") -> float:
        return self.score_weights(q.dequantize(), split)

    def score_baseline(self, split: str = "val") -> float:
        self.view.restore()
        return self.score_current(split)

    # -- the problem seen by optimizers --------------------------------------------------
    def quantization(self, x: np.ndarray) -> "Quantization":
        return self.space.quantize(self.view, self.quantizer, np.asarray(x, dtype=np.float64))

    def _evaluate_one(self, x: np.ndarray) -> tuple[float, float]:
        q = self.quantization(x)
        return 1.0 - self.score_quantization(q, "val"), float(q.d)
