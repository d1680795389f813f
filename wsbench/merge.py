"""What a merge strategy receives and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from wsbench.quantization import Quantization

Scorer = Callable[["torch.Tensor"], float]  # dequantized pooled weights -> validation metric


@dataclass
class MergeResult:
    quantization: "Quantization"
    evaluations: int
    initial_score: float
    final_score: float


@runtime_checkable
class MergeStrategy(Protocol):
    name: str

    def merge(self, q: "Quantization", score: Scorer, check: Scorer | None = None) -> MergeResult:
        """Merge ``q``'s values, scoring candidates with ``score``; strategies that set
        ``needs_holdout = True`` get ``score`` on one half of validation and ``check`` on the other."""
        ...
