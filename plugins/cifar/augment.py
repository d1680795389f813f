"""CIFAR augmentation on uint8 tensors, where the images are: random 4-pixel-padded crops and
horizontal flips, shared by training and by the BatchNorm recomputation after SWA (which must
see the images as training did). No PIL work happens per step."""

from __future__ import annotations

import torch
from torch import nn


def augment(padded: torch.Tensor, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 32x32 crops of the 4-pixel zero-padded uint8 NHWC images, randomly flipped."""
    n, size = len(idx), padded.shape[1] - 8
    oy = torch.randint(0, 9, (n,), generator=gen)
    ox = torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    ar = torch.arange(size)
    rows = (oy[:, None] + ar)[:, :, None]
    cols = ox[:, None] + ar
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]
    dev = padded.device  # offsets drawn on the CPU, the gather done where the images are
    return padded[to_device(idx[:, None, None], dev), to_device(rows, dev), to_device(cols, dev)]


def to_device(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """``t`` on ``dev``; to a GPU via pinned memory, so the copy does not wait for queued steps."""
    return t if dev.type == "cpu" else t.pin_memory().to(dev, non_blocking=True)


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters are (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device
