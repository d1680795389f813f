"""The result every quantizer returns, and the one routine that turns bin ids into it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class NativeCode:
    """A codec's own coding of a quantization (e.g. an NNC bitstream): the bytes a ``native``
    file stores, decoded by the space plugin named ``codec`` (its ``decode(header, payload,
    shared)``), and the parameters that decoder needs."""

    codec: str
    payload: bytes
    header: dict[str, Any] = field(default_factory=dict)
    #: non-shared state-dict entries (biases, norms) the payload codes too, so a file stores them
    #: once, in the codec's coding (its decoder then returns ``(flat, {name: array})``)
    rest: tuple[str, ...] = ()
    #: those entries as the payload decodes them (not stored: the harness scores the model with
    #: them, so a search sees exactly what the file gives)
    decoded_rest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def bits(self) -> int:
        return 8 * len(self.payload)


@dataclass
class Quantization:
    """A codebook of ``d`` float32 shared values and one index per weight (int64, in [0, d)).

    Spaces that are whole codecs also give ``native``: their own coding of exactly these values
    (any merge drops it: a merged quantization is coded by wsbench's codings)."""

    codebook: "torch.Tensor"
    indices: "torch.Tensor"
    k: int  # the size parameter asked for (number of bins / clusters); d <= k
    native: NativeCode | None = None

    @property
    def d(self) -> int:
        return int(self.codebook.numel())

    def dequantize(self) -> "torch.Tensor":
        return self.codebook[self.indices]

    def digest(self) -> str:
        """sha256 of the content (values and indices): equal digests decode to equal weights."""
        h = hashlib.sha256(self.codebook.detach().cpu().numpy().tobytes())
        h.update(self.indices.detach().cpu().numpy().tobytes())
        if self.native is not None:  # a codec's decoded biases and norms are weights too
            import numpy as np

            for name in sorted(self.native.decoded_rest):
                h.update(name.encode() + np.asarray(self.native.decoded_rest[name]).tobytes())
        return h.hexdigest()


@runtime_checkable
class Quantizer(Protocol):
    """A quantizer plugin: maps a pooled weight vector and a size ``k`` to a Quantization."""

    name: str

    def quantize(self, weights: "torch.Tensor", k: int) -> Quantization: ...


def compact(bin_ids: "torch.Tensor", weights: "torch.Tensor", n_bins: int, k: int) -> Quantization:
    """Drop empty bins, renumber the rest, and give each bin the mean of its member weights.

    Sums are taken in float64 so a bin's value is its members' mean to float32 precision.
    """
    import torch

    counts = torch.bincount(bin_ids, minlength=n_bins)
    sums = torch.zeros(n_bins, dtype=torch.float64, device=weights.device)
    sums.index_add_(0, bin_ids, weights.to(torch.float64))
    nonempty = counts > 0
    remap = torch.cumsum(nonempty, 0) - 1
    codebook = (sums[nonempty] / counts[nonempty]).to(torch.float32)
    return Quantization(codebook=codebook, indices=remap[bin_ids], k=k)
