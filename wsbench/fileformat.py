"""The compressed-model file: a safetensors container with a versioned JSON header.

Layout (all tensors little-endian, as safetensors stores them):

* metadata ``format`` = ``wsbench-compressed``, ``version`` = ``1``, ``header`` = JSON with
  ``coding`` (``huffman`` or ``fixed``), ``n_weights``, ``n_bits``, ``k``, ``d``,
  ``quantizer``, ``include``, ``shared`` (``[name, shape, dtype]`` in pooling order),
  ``rest`` (names of the fp32 remainder) and ``sha256`` over every tensor's bytes in that order;
* ``codebook`` float32[d], the shared values;
* ``huffman.count`` / ``huffman.symbol`` int64, the canonical code table (Huffman coding only);
* ``bitstream`` uint8, the indices of all shared weights (Huffman codes or fixed-width, MSB first);
* ``rest.<name>``: every other state-dict entry (biases, norms, buffers) unchanged.

Loading uses safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wsbench.errors import FormatError

if TYPE_CHECKING:
    import torch

FORMAT = "wsbench-compressed"
VERSION = 1
SUFFIX = ".wsb"


def fixed_width(d: int) -> int:
    """Bits per index without entropy coding: ceil(log2 d), at least 1."""
    return max(1, int(np.ceil(np.log2(max(d, 1)))))


def pack_fixed(indices: np.ndarray, bits: int) -> tuple[bytes, int]:
    idx = np.asarray(indices, dtype=np.uint32).reshape(-1)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint32)
    planes = ((idx[:, None] >> shifts) & 1).astype(np.uint8)
    return np.packbits(planes.reshape(-1)).tobytes(), idx.size * bits


def unpack_fixed(data: bytes, n_values: int, bits: int) -> np.ndarray:
    planes = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=n_values * bits)
    weights = (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))
    return planes.reshape(n_values, bits).astype(np.int64) @ weights


def _checksum(tensors: dict[str, "torch.Tensor"], order: list[str]) -> str:
    import torch

    h = hashlib.sha256()
    for key in order:
        t = tensors[key].contiguous().view(-1)
        h.update(key.encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_bytes(header: dict, tensors: dict[str, "torch.Tensor"]) -> bytes:
    """Serialise header + tensors; the checksum is computed here so it always matches."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    header = dict(header)
    header["sha256"] = _checksum(tensors, sorted(tensors))
    return save(tensors, metadata={"format": FORMAT, "version": str(VERSION),
                                   "header": json.dumps(header)})


def read(path: str | Path) -> tuple[dict, dict[str, "torch.Tensor"]]:
    """Read and verify a compressed file; every failure is one FormatError line."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        tensors = load(raw)
        meta_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8:8 + meta_len]).get("__metadata__", {})
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not a wsbench compressed file (corrupted or truncated: {exc})") from None
    if meta.get("format") != FORMAT:
        raise FormatError(f"{path}: not a wsbench compressed file (format {meta.get('format')!r})")
    if meta.get("version") != str(VERSION):
        raise FormatError(f"{path}: format version {meta.get('version')} is not supported "
                          f"(this wsbench reads version {VERSION})")
    try:
        header = json.loads(meta["header"])
    except (KeyError, ValueError):
        raise FormatError(f"{path}: header is missing or malformed") from None
    if _checksum(tensors, sorted(tensors)) != header.get("sha256"):
        raise FormatError(f"{path}: checksum mismatch, the file is corrupted")
    return header, tensors
