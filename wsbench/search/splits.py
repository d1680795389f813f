"""Seeded, class-stratified subsets of a split: low-fidelity screening scores one, and the
hold-out merge halves validation with one, so every class is in each part."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def stratified_subset(y: "torch.Tensor", fraction: float, seed: int) -> "torch.Tensor":
    """Sorted row indices of a seeded subset holding ``fraction`` of every class (at least one).
    Rows of a sequence task (``[N, T]`` targets, no class per row) are drawn uniformly."""
    import torch

    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    labels = y.detach().cpu()
    if labels.ndim > 1:
        take = max(1, int(round(fraction * len(labels))))
        return torch.sort(torch.randperm(len(labels), generator=gen)[:take]).values
    picks = []
    for c in torch.unique(labels).tolist():
        rows = torch.nonzero(labels == c).flatten()
        take = max(1, int(round(fraction * len(rows))))
        picks.append(rows[torch.randperm(len(rows), generator=gen)[:take]])
    return torch.sort(torch.cat(picks)).values
