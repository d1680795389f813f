"""Search spaces: how a decision vector becomes a quantization of the pooled weights."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from wsbench.codec.quantization import Quantization, Quantizer
    from wsbench.codec.weights import WeightView


@runtime_checkable
class Space(Protocol):
    """A search-space plugin. ``bind`` fixes its dimension for a model (e.g. one K per layer).

    ``xl``/``xu`` are inclusive bounds; ``integer`` marks the variables that are rounded.
    """

    name: str
    xl: np.ndarray
    xu: np.ndarray
    integer: np.ndarray

    def bind(self, view: "WeightView") -> None: ...

    def quantize(self, view: "WeightView", quantizer: "Quantizer", x: np.ndarray) -> "Quantization": ...

    def k_of(self, x: np.ndarray) -> int:
        """The K to report for a decision (e.g. the total over layers)."""
        ...
