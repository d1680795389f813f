"""Classification metrics computed on the device, without a round trip through numpy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

METRICS = ("f1", "accuracy")


def macro_f1(pred: "torch.Tensor", target: "torch.Tensor", num_classes: int) -> float:
    """Macro F1 over the classes present in target or prediction (as scikit-learn does); a
    sequence task's ``[N, T]`` targets count every position."""
    import torch

    cm = torch.bincount((target * num_classes + pred).reshape(-1), minlength=num_classes * num_classes)
    cm = cm.reshape(num_classes, num_classes).to(torch.float64)
    tp = cm.diagonal()
    support = cm.sum(1)
    predicted = cm.sum(0)
    present = (support + predicted) > 0
    f1 = 2 * tp[present] / (support[present] + predicted[present])
    return float(f1.mean())


def accuracy(pred: "torch.Tensor", target: "torch.Tensor", num_classes: int) -> float:
    return float((pred == target).to(float).mean()) if target.numel() else 0.0


def get_metric(name: str) -> Callable[["torch.Tensor", "torch.Tensor", int], float]:
    from wsbench.errors import ConfigError, suggest

    if name == "f1":
        return macro_f1
    if name == "accuracy":
        return accuracy
    raise ConfigError(f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}"
                      + suggest(name, METRICS))
