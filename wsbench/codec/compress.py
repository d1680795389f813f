"""Public API: compress a model to a file and load it back as a state dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wsbench.codec import adaptive, fileformat, fileformat_checks, huffman, layer_coding, native
from wsbench.codec.quantization import Quantization
from wsbench.codec.weights import Include, WeightView
from wsbench.errors import FormatError
from wsbench.files.cache import atomic_write_bytes

if TYPE_CHECKING:
    import torch


CODINGS = ("huffman", "huffman-layer", "adaptive", "fixed", "native")


@dataclass
class CompressedModel:
    """A quantized model: shared weights as codebook + coded indices, the rest kept as is."""

    shared: list[tuple[str, tuple[int, ...], str]]  # (name, shape, dtype) in pooling order
    quantization: Quantization
    rest: dict[str, "torch.Tensor"]
    quantizer: str = "uniform"
    include: str = "conv-linear"
    coding: str = "huffman"  # one of CODINGS
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_view(cls, view: WeightView, quantization: Quantization, quantizer: str,
                  coding: str = "huffman", **extra: Any) -> "CompressedModel":
        shared_names = set(view.names)
        rest = {k: v.detach().cpu().clone() for k, v in view.model.state_dict().items()
                if k not in shared_names}
        shared = [(n, tuple(p.shape), str(p.dtype).removeprefix("torch."))
                  for n, p in zip(view.names, view.params)]
        return cls(shared, quantization, rest, quantizer, view.include, coding, dict(extra))

    @property
    def n_weights(self) -> int:
        return int(self.quantization.indices.numel())

    @cached_property
    def _indices(self) -> np.ndarray:
        return self.quantization.indices.detach().cpu().numpy().astype(np.int64, copy=False)


    @cached_property
    def _encoded(self) -> tuple[Any, bytes, int]:
        if self.coding == "native":  # the codec's own payload: no indices to code
            code = native.code_of(self.quantization)
            return code, code.payload, code.bits
        idx = self._indices
        if self.coding == "adaptive":
            code = adaptive.encode(idx, _sizes(self.shared), self.quantization.codebook.cpu().numpy())
            return code, code.data, code.total_bits
        if self.coding == "huffman-layer":
            code = layer_coding.encode(idx, _sizes(self.shared), self.quantization.d)
            return code, code.data, code.total_bits
        if self.coding == "huffman":
            table = huffman.build_table(np.bincount(idx, minlength=self.quantization.d))
            data, n_bits = huffman.encode(idx, table)
            return table, data, n_bits
        if self.coding == "fixed":
            data, n_bits = fileformat.pack_fixed(idx, fileformat.fixed_width(self.quantization.d))
            return None, data, n_bits
        raise ValueError(f"unknown coding {self.coding!r}; use one of {', '.join(CODINGS)}")

    @property
    def avg_bits(self) -> float:
        """Average index bits per shared weight (the paper's measure)."""
        return self._encoded[2] / self.n_weights

    @property
    def cr_paper(self) -> float:
        """The paper's compression ratio: 32 / average index bits (ignores codebook and rest)."""
        return 32.0 / self.avg_bits

    @property
    def original_bytes(self) -> int:
        """Bytes of every state-dict tensor of the original model, as a plain fp32 save stores them."""
        import torch

        shared = sum(int(np.prod(s)) * torch.empty(0, dtype=getattr(torch, dt)).element_size()
                     for _, s, dt in self.shared)
        return shared + sum(t.numel() * t.element_size() for t in self.rest.values())

    @property
    def file_size(self) -> int:
        """Bytes of the saved file."""
        return len(self.to_bytes())

    @property
    def cr_file(self) -> float:
        """Whole-model compression ratio: original state-dict bytes / file bytes."""
        return self.original_bytes / self.file_size

    def to_bytes(self) -> bytes:
        """The file's content (computed once)."""
        if "_file_bytes" not in self.__dict__:
            self.__dict__["_file_bytes"] = self._serialise()
        return self.__dict__["_file_bytes"]

    def _serialise(self) -> bytes:
        import torch

        table, data, n_bits = self._encoded
        tensors: dict[str, torch.Tensor] = {} if self.coding == "native" else {
            "codebook": self.quantization.codebook.detach().cpu().to(torch.float32)}
        tensors |= {
            "bitstream": torch.frombuffer(bytearray(data), dtype=torch.uint8) if data
            else torch.zeros(1, dtype=torch.uint8),
        }
        header_extra = {}
        if isinstance(table, layer_coding.LayerCode):
            arrays, header_extra["layers"] = layer_coding.to_file(table)
            tensors.update({k: torch.from_numpy(v) for k, v in arrays.items()})
        elif self.coding == "native":
            header_extra.update(native.header_fields(table, self.rest))
        elif isinstance(table, adaptive.AdaptiveCode):
            header_extra["adaptive"] = {"zero": table.zero, **adaptive.params()}
        elif table is not None:
            tensors["huffman.count"] = torch.from_numpy(table.count.astype(np.int64))
            tensors["huffman.symbol"] = torch.from_numpy(table.symbol.astype(np.int64))
        rest = self._file_rest
        for name, t in rest.items():
            tensors[f"rest.{name}"] = t
        nonfinite = [n for n, t in rest.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if nonfinite:  # recorded only where the model has them: a reader refuses any other
            header_extra["nonfinite"] = nonfinite
        header = {
            "coding": self.coding, "n_weights": self.n_weights, "n_bits": n_bits,
            "k": int(self.quantization.k), "d": self.quantization.d,
            "quantizer": self.quantizer, "include": self.include,
            "shared": [[n, list(s), dt] for n, s, dt in self.shared],
            "rest": list(rest), "extra": self.extra, **header_extra,
        }
        self.__dict__["_header"] = header
        return fileformat.write_bytes(header, tensors, fileformat.version_for(self.coding))

    @property
    def _file_rest(self) -> dict[str, "torch.Tensor"]:
        """The rest the file stores as is: all of it, less what a native payload codes."""
        coded = set(self.quantization.native.rest) if (
            self.coding == "native" and self.quantization.native is not None) else set()
        return {k: v for k, v in self.rest.items() if k not in coded}

    def save(self, path: str | Path) -> Path:
        """Write the file atomically (never a half-written file under the final name), and
        never one that a reader would refuse as a decoder bomb (too many values for its size)."""
        path = Path(path)
        data = self.to_bytes()
        try:
            fileformat_checks.bounded(self.__dict__["_header"], len(data))
        except FormatError as exc:
            raise FormatError(f"not writing {path}: {exc}") from None
        atomic_write_bytes(path, data)
        return path

    def state_dict(self) -> dict[str, "torch.Tensor"]:
        """The quantized model's state dict (shared weights dequantized)."""
        return _assemble(self.shared, self.quantization.dequantize().detach().cpu(), self.rest)


def _sizes(shared: list) -> list[int]:
    """Number of weights of each shared tensor (``[name, shape, dtype]`` rows), in pooling order."""
    return [int(np.prod(shape)) for _, shape, _ in shared]


def _assemble(shared: list, flat: "torch.Tensor", rest: dict[str, "torch.Tensor"]) -> dict:
    import torch

    out: dict[str, torch.Tensor] = {}
    offset = 0
    for (name, shape, dtype), n in zip(shared, _sizes(shared)):
        out[name] = flat[offset:offset + n].reshape(tuple(shape)).to(getattr(torch, dtype)).clone()
        offset += n
    out.update(rest)
    return out


def compress_model(model: "torch.nn.Module", k: int, quantizer: str = "uniform",
                   include: Include = "conv-linear", coding: str = "huffman",
                   **quantizer_options: Any) -> CompressedModel:
    """Quantize ``model``'s shared weights with ``k`` bins of the named quantizer plugin."""
    from wsbench import plugins

    view = WeightView.of(model, include)
    q = plugins.create("quantizer", quantizer, **quantizer_options)
    return CompressedModel.from_view(view, q.quantize(view.original, int(k)), quantizer, coding)


def load_state_dict(path: str | Path) -> dict[str, "torch.Tensor"]:
    """Decode a compressed file into a state dict that ``model.load_state_dict`` accepts.

    :func:`wsbench.codec.fileformat.read` has checked the header against the tensors and the
    file's size, so decoding allocates no more than the file may stand for; anything a decoder
    still refuses, and NaN or inf the file does not record, is a FormatError.
    """
    import torch

    header, tensors = fileformat.read(path)
    rest = {name: tensors[f"rest.{name}"] for name in header["rest"]}
    try:
        _finite(header, rest, tensors.get("codebook"))
        if header["coding"] == "native":
            flat, coded = native.decode(header, tensors)
            return _assemble(header["shared"], flat, rest | coded)
        idx = _decode_indices(header, tensors)
        codebook = tensors["codebook"]
        if idx.size != header["n_weights"] or (idx.size and (idx.min() < 0 or idx.max() >= codebook.numel())):
            raise ValueError("indices do not match the codebook")
        flat = codebook[torch.from_numpy(idx)]
        del idx  # the indices (8 bytes a weight) are not needed beside the weights any more
        return _assemble(header["shared"], flat, rest)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    except (KeyError, ValueError, TypeError, IndexError, OverflowError, RuntimeError, MemoryError) as exc:
        raise FormatError(f"{path}: inconsistent compressed file ({exc})") from None


def _finite(header: dict, rest: dict[str, "torch.Tensor"], codebook: "torch.Tensor | None") -> None:
    """NaN or inf only where the header records the model had them: in the rest tensors it
    names, never in the codebook (compressing refuses such weights)."""
    import torch

    if codebook is not None and not bool(torch.isfinite(codebook).all()):
        raise FormatError("the codebook holds NaN or inf, which no model compresses to")
    allowed = set(header.get("nonfinite", []))
    for name, t in rest.items():
        if t.is_floating_point() and name not in allowed and not bool(torch.isfinite(t).all()):
            raise FormatError(f"tensor {name!r} holds NaN or inf, which the file does not record")


def _decode_indices(header: dict, tensors: dict[str, "torch.Tensor"]) -> np.ndarray:
    """The pooled codebook indices of a checked file."""
    n, n_bits, d = header["n_weights"], header["n_bits"], header["d"]
    data = tensors["bitstream"].numpy().tobytes()
    if header["coding"] == "huffman":
        table = huffman.HuffmanTable(tensors["huffman.count"].numpy(), tensors["huffman.symbol"].numpy())
        return huffman.decode(data, n_bits, n, table)
    if header["coding"] == "huffman-layer":
        arrays = {k: tensors[k].numpy() for k in ("huffman.lengths", "layers.lengths")}
        code = layer_coding.from_file(arrays, header["layers"], data, n_bits, d)
        return layer_coding.decode(code, _sizes(header["shared"]))
    if header["coding"] == "adaptive":
        return adaptive.decode(data, _sizes(header["shared"]), d, header["adaptive"]["zero"])
    if header["coding"] == "fixed":
        return fileformat.unpack_fixed(data, n, fileformat.fixed_width(d))
    raise ValueError(f"unknown coding {header['coding']!r}")
