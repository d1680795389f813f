"""Stochastic weight averaging (Izmailov et al. 2018): the running average of cycle-end weights,
and the BatchNorm statistics an averaged model needs (its weights never produced any)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from wsbench_plugins.cifar.augment import augment, device_of
from wsbench_plugins.cifar.data import to_float


def average_in(model: nn.Module, averaged: dict[str, torch.Tensor], n_averaged: int) -> None:
    """Fold ``model``'s parameters into ``averaged`` as its ``n_averaged``-th member (fp32)."""
    for k, p in model.named_parameters():
        p32 = p.detach().float()
        averaged[k] = p32.clone() if n_averaged == 1 else averaged[k] + (p32 - averaged[k]) / n_averaged


def load_average(model: nn.Module, averaged: dict[str, torch.Tensor]) -> None:
    """Copy the averaged weights into ``model`` (in its own dtype)."""
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(averaged[k].to(p.dtype))


def update_bn(model: nn.Module, x_uint8, batch_size: int = 500, bf16: bool = False,
              seed: int = 0) -> None:
    """Recompute BatchNorm running statistics as exact averages over augmented training images.

    Averaged weights never produced the running statistics the iterates left behind, so an
    SWA model needs new ones. The images are shuffled (the paper split lists them class by
    class, and single-class batches understate the variance) and augmented as in training
    (measured on the 87.66% ResNet-20: statistics from unaugmented images cost 3.1 points of
    validation accuracy, augmented ones matched the training-time statistics).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = model.training
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
    model.train()
    gen = torch.Generator().manual_seed(seed)
    dev = device_of(model)
    padded = F.pad(torch.as_tensor(np.asarray(x_uint8)).to(dev), (0, 0, 4, 4, 4, 4))
    order = torch.randperm(len(padded), generator=gen)
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(order), batch_size):
            xb = augment(padded, order[i : i + batch_size], gen)
            for m in bns:  # a running mean weighted by batch size: exact over uneven batches
                m.momentum = len(xb) / (i + len(xb))
            model(to_float(xb).contiguous(memory_format=torch.channels_last))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)
