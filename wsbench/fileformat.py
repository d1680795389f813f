"""The compressed-model file: a safetensors container with a versioned JSON header.

Layout (all tensors little-endian, as safetensors stores them):

* metadata ``format`` = ``wsbench-compressed``, ``version`` = ``1`` (``2`` for coding
  ``huffman-layer``), ``header`` = JSON with
  ``coding`` (``huffman``, ``huffman-layer`` or ``fixed``), ``n_weights``, ``n_bits``, ``k``, ``d``,
  ``quantizer``, ``include``, ``shared`` (``[name, shape, dtype]`` in pooling order),
  ``rest`` (names of the fp32 remainder) and ``sha256`` over every tensor's bytes in that order;
* ``codebook`` float32[d], the shared values;
* ``huffman.count`` / ``huffman.symbol`` int64, the canonical code table (coding ``huffman``);
* ``huffman.lengths`` uint8[d], the shared table's code lengths, and ``layers.lengths`` uint8,
  the concatenated per-tensor tables (coding ``huffman-layer``; the header's ``layers`` lists
  ``[first symbol, table length (0: the shared table), bits]`` per shared tensor, and from
  version 2 on the checksum covers the header as well as the tensors);
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
VERSION = 2     # the newest version written; files of coding ``huffman-layer`` need it
READS = tuple(str(v) for v in range(1, VERSION + 1))
SUFFIX = ".wsb"


def fixed_width(d: int) -> int:
    """Bits per index without entropy coding: ceil(log2 d), at least 1."""
    return max(1, int(np.ceil(np.log2(max(d, 1)))))


_CHUNK = 1 << 20  # values per step (a multiple of 8, so every step ends on a byte boundary)


def pack_fixed(indices: np.ndarray, bits: int) -> tuple[bytes, int]:
    """Indices as ``bits``-wide big-endian fields, MSB first, zero-padded to a whole byte."""
    idx = np.asarray(indices).reshape(-1)
    parts = []
    for start in range(0, idx.size, _CHUNK):
        big = idx[start:start + _CHUNK].astype(">u4")  # 4 big-endian bytes per value
        planes = np.unpackbits(big.view(np.uint8).reshape(-1, 4), axis=1)[:, 32 - bits:]
        parts.append(np.packbits(planes.reshape(-1)).tobytes())
    return b"".join(parts), idx.size * bits


def unpack_fixed(data: bytes, n_values: int, bits: int) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8)
    out = np.empty(n_values, dtype=np.int64)
    step = _CHUNK * bits // 8
    for i, start in enumerate(range(0, n_values, _CHUNK)):
        n = min(_CHUNK, n_values - start)
        planes = np.unpackbits(raw[i * step:i * step + (n * bits + 7) // 8], count=n * bits)
        padded = np.zeros((n, 32), dtype=np.uint8)
        padded[:, 32 - bits:] = planes.reshape(n, bits)
        out[start:start + n] = np.packbits(padded, axis=1).view(">u4").reshape(-1)
    return out


def _checksum(tensors: dict[str, "torch.Tensor"], order: list[str], header: dict | None = None) -> str:
    """sha256 over every tensor's name and bytes; from version 2 on, over the header too
    (without its own ``sha256``), because the per-tensor coding's decoder depends on it."""
    import torch

    h = hashlib.sha256()
    for key in order:
        t = tensors[key].contiguous().view(-1)
        h.update(key.encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy().tobytes())
    if header is not None:
        h.update(json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode())
    return h.hexdigest()


def version_for(coding: str) -> int:
    """The oldest format version that can hold ``coding`` (older readers keep reading the rest)."""
    return VERSION if coding == "huffman-layer" else 1


def write_bytes(header: dict, tensors: dict[str, "torch.Tensor"], version: int = 1) -> bytes:
    """Serialise header + tensors; the checksum is computed here so it always matches.

    Version 1 files (codings ``huffman`` and ``fixed``) stay readable by older wsbench releases;
    version 2 marks the per-tensor coding, which those releases must refuse, not misread.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    header = dict(header)
    header["sha256"] = _checksum(tensors, sorted(tensors), header if version >= 2 else None)
    return save(tensors, metadata={"format": FORMAT, "version": str(version),
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
    if meta.get("version") not in READS:
        raise FormatError(f"{path}: format version {meta.get('version')} is not supported "
                          f"(this wsbench reads versions {', '.join(READS)})")
    try:
        header = json.loads(meta["header"])
    except (KeyError, ValueError):
        raise FormatError(f"{path}: header is missing or malformed") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header is missing or malformed")
    covered = header if meta["version"] != "1" else None
    if _checksum(tensors, sorted(tensors), covered) != header.get("sha256"):
        raise FormatError(f"{path}: checksum mismatch, the file is corrupted")
    return header, tensors
