"""The contract of a merge strategy: what it receives, what it returns, what it declares.

Plugin authors subclass :class:`MergeStrategy` (or write any class with the same ``merge``;
the declared attributes then default as below). The pipeline reads the declarations, never
a docstring: a strategy that sets ``needs_holdout = True`` is given two scorers on disjoint,
class-stratified halves of the validation data the search used, ``score`` to drive its pass
and ``check`` to stop it; every other strategy gets ``score`` on the whole of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantization

Scorer = Callable[["torch.Tensor"], float]  # dequantized pooled weights -> validation metric


@dataclass
class MergeResult:
    quantization: "Quantization"
    evaluations: int
    initial_score: float
    final_score: float


class MergeStrategy(ABC):
    """Base class of merge strategies; ``name`` is filled in from the registry when unset.

    ``needs_holdout``: whether ``merge`` must be called with ``check`` (a held-out scorer).
    """

    name: str
    needs_holdout: bool = False

    @abstractmethod
    def merge(self, q: "Quantization", score: Scorer, check: Scorer | None = None) -> MergeResult:
        """Merge ``q``'s values, scoring candidates with ``score`` (and ``check``, the held-out
        half, when the strategy declares ``needs_holdout``)."""


def needs_holdout(merger: object) -> bool:
    """What ``merger`` declares it needs: a held-out scorer or not (False when it says nothing,
    as a third-party strategy that does not subclass :class:`MergeStrategy` may)."""
    return bool(getattr(merger, "needs_holdout", False))
