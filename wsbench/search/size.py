"""The size objective f2: d, the number of shared values (the paper's), or the coded index bits
per shared weight, so that a search can spend bits, not distinct values, where the validation
metric needs them (one codebook value used by many weights costs more bits than a rare one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsbench.errors import ConfigError
from wsbench.search.choices import SIZE_CODINGS, SIZES

if TYPE_CHECKING:
    from wsbench.codec.quantization import Quantization
    from wsbench.codec.weights import WeightView


class SizeObjective:
    """``size(q)``: the second objective of a quantization."""

    def __init__(self, view: "WeightView", kind: str = "d", coding: str = "huffman-layer") -> None:
        if kind not in SIZES:
            raise ConfigError(f"size must be one of {', '.join(SIZES)}, got {kind!r}")
        if coding not in SIZE_CODINGS:
            raise ConfigError(f"size coding must be one of {', '.join(SIZE_CODINGS)}, got {coding!r}")
        self.kind, self.coding = kind, coding
        self._shared = [(n, tuple(p.shape), str(p.dtype).removeprefix("torch."))
                        for n, p in zip(view.names, view.params)]

    @property
    def cache_tag(self) -> tuple:
        """What a decision cache shared between harnesses must tell apart (nothing for d)."""
        return () if self.kind == "d" else (("size", self.kind, self.coding),)

    def __call__(self, q: "Quantization") -> float:
        if self.kind == "d":
            return float(q.d)
        if self.coding == "native":  # the codec's own bitstream (a space that is a codec)
            if q.native is None:
                raise ConfigError("size coding native needs a space that codes its own "
                                  "quantizations (e.g. nncodec)")
            return q.native.bits / q.indices.numel()
        from wsbench.codec.compress import CompressedModel

        return CompressedModel(self._shared, q, {}, coding=self.coding).avg_bits
