"""The header of a compressed file checked against its tensors, before anything is decoded.

Why: a checksum only says the file is the one its writer made. A crafted file (or a version-1
file, whose checksum leaves the header out) can carry a header that disagrees with its tensors;
decoding it would give a different model, or allocate what the header claims rather than what
the file holds. Every bound here is one the file's own bytes impose: a Huffman code is at least
one bit, a fixed-width index exactly ``fixed_width(d)`` bits, the shapes add up to
``n_weights``, and the codebook holds ``d`` values. Codings that can stand for many values in a
few bytes (adaptive, a codec's own) are bounded by the file's size too (:func:`max_values`).
Failures are :class:`FormatError`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from wsbench.codec import native
from wsbench.errors import FormatError
from wsbench.files.safe_io import MAX_VALUES_PER_BYTE_ENV, max_values_per_byte

if TYPE_CHECKING:
    import torch

CODINGS = ("huffman", "huffman-layer", "adaptive", "fixed", "native")
MAX_CODE_LENGTH = 31  # the longest code bitarray's canonical decoder accepts
MAX_DIMS = 64         # torch's limit on a tensor's dimensions
MAX_DIM = 1 << 62     # one dimension torch can index
TABLES = {"huffman": ("huffman.count", "huffman.symbol"),
          "huffman-layer": ("huffman.lengths", "layers.lengths"), "adaptive": (), "fixed": (), "native": ()}
TABLE_DTYPES = {"codebook": "float32", "bitstream": "uint8", "huffman.count": "int64",
                "huffman.symbol": "int64", "huffman.lengths": "uint8", "layers.lengths": "uint8"}
_INTS = {"n_weights": 0, "n_bits": 0, "k": 1, "d": 1}  # field: smallest value
VALUES_BASE = 1 << 22  # values any file may decode to, whatever its size (max_values)
_STRS = ("coding", "quantizer", "include")


def is_int(value: Any) -> bool:
    """A JSON integer (``True``, ``1.0`` and ``"1"`` are not)."""
    return type(value) is int


def fixed_width(d: int) -> int:
    """Bits per index without entropy coding: ceil(log2 d), at least 1."""
    return max(1, (int(d) - 1).bit_length())


def max_values(file_bytes: int) -> int:
    """The most values a file of ``file_bytes`` may decode to (shared weights and what a
    codec's payload codes besides): 4M, plus 16 per byte (``$WSBENCH_MAX_VALUES_PER_BYTE``)."""
    return VALUES_BASE + max_values_per_byte() * int(file_bytes)


def check(header: Any, tensors: dict[str, "torch.Tensor"], file_bytes: int | None = None) -> list[int]:
    """Check every header field and its agreement with the tensors (and, given the file's size,
    that it may decode to that many values); the shared tensors' sizes."""
    _fields(header)
    sizes = _shared(header["shared"])
    if sum(sizes) != header["n_weights"]:
        raise FormatError(f"the shared tensors hold {sum(sizes)} weights, the header says "
                          f"n_weights {header['n_weights']}")
    if header["coding"] == "native":
        native.check(header)
        if not all(_shape_ok(row[1]) for row in header.get("native_rest", [])):
            raise FormatError("a tensor of the header field 'native_rest' has a malformed shape")
    elif "native_rest" in header:
        raise FormatError("only a native file may have the header field 'native_rest'")
    _tensor_set(header, tensors)
    if header["coding"] != "native":  # a codec's payload describes the weights: no codebook
        _coded(header, tensors, sizes)
    else:
        _bitstream(header, tensors["bitstream"].numel())
    if file_bytes is not None:
        bounded(header, file_bytes)
    return sizes


def _coded(header: dict, tensors: dict[str, "torch.Tensor"], sizes: list[int]) -> None:
    """The codebook, the bitstream and the coding's tables against the header."""
    if tensors["codebook"].numel() != header["d"]:
        raise FormatError(f"d {header['d']} does not match the codebook's "
                          f"{tensors['codebook'].numel()} values")
    _bitstream(header, tensors["bitstream"].numel())
    coding = header["coding"]
    if coding == "huffman":
        _huffman(header, tensors["huffman.count"].numpy(), tensors["huffman.symbol"].numpy())
    elif coding == "huffman-layer":
        _layers(header, sizes, tensors["huffman.lengths"].numpy(), tensors["layers.lengths"].numpy())
    elif coding == "adaptive":
        _adaptive(header)
    elif fixed_width(header["d"]) > 32 or header["n_bits"] != header["n_weights"] * fixed_width(header["d"]):
        raise FormatError(f"n_bits {header['n_bits']} is not n_weights x {fixed_width(header['d'])} bits")


def _fields(header: Any) -> None:
    if not isinstance(header, dict):
        raise FormatError("header is missing or malformed")
    for key in (*_INTS, *_STRS, "shared", "rest", "sha256"):
        if key not in header:
            raise FormatError(f"header lacks {key!r}")
    for key, low in _INTS.items():
        if not is_int(header[key]) or header[key] < low:
            raise FormatError(f"header field {key!r} must be an integer >= {low}, got {header[key]!r}")
    for key in (*_STRS, "sha256"):
        if not isinstance(header[key], str):
            raise FormatError(f"header field {key!r} must be a string")
    if header["coding"] not in CODINGS:
        raise FormatError(f"unknown coding {header['coding']!r}")
    if not isinstance(header.get("extra", {}), dict):
        raise FormatError("header field 'extra' must be an object")
    if not isinstance(header["rest"], list) or not all(isinstance(n, str) for n in header["rest"]):
        raise FormatError("header field 'rest' must be a list of names")
    flagged = header.get("nonfinite", [])
    if not isinstance(flagged, list) or not all(isinstance(n, str) for n in flagged) or \
            not set(flagged) <= set(header["rest"]):
        raise FormatError("header field 'nonfinite' must list names of the rest")


def bounded(header: dict, file_bytes: int) -> None:
    """No more decoded values than :func:`max_values` allows a file of ``file_bytes`` (the
    writer checks its own files with it too, so it never writes one a reader refuses)."""
    n = header["n_weights"] + sum(math.prod(row[1]) for row in header.get("native_rest", []))
    if n > max_values(file_bytes):
        raise FormatError(f"the header declares {n:,} values, more than the {max_values(file_bytes):,} "
                          f"a file of {file_bytes:,} bytes may decode to (raise "
                          f"${MAX_VALUES_PER_BYTE_ENV}, now {max_values_per_byte()}, to read it)")


def _shared(shared: Any) -> list[int]:
    """Each ``[name, shape, dtype]`` row well formed, with a floating dtype; their sizes."""
    import torch

    if not isinstance(shared, list):
        raise FormatError("header field 'shared' must be a list")
    sizes = []
    for row in shared:
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                and isinstance(row[1], list) and isinstance(row[2], str)):
            raise FormatError("header field 'shared' must hold [name, shape, dtype] rows")
        name, shape, dtype = row
        if not _shape_ok(shape):
            raise FormatError(f"shared tensor {name!r} has a malformed shape")
        kind = getattr(torch, dtype, None) if dtype.isidentifier() else None
        if not isinstance(kind, torch.dtype) or not kind.is_floating_point:
            raise FormatError(f"shared tensor {name!r} has dtype {dtype!r}, not a floating dtype")
        sizes.append(math.prod(shape))
    return sizes


def _shape_ok(shape: list) -> bool:
    """Non-negative ints, as many dims as torch allows, and strides that fit in 63 bits."""
    return (len(shape) <= MAX_DIMS and all(is_int(n) and 0 <= n < MAX_DIM for n in shape)
            and math.prod(n for n in shape if n) < MAX_DIM)


def _tensor_set(header: dict, tensors: dict[str, "torch.Tensor"]) -> None:
    """Names unique, every ``rest`` name stored and nothing stored that the header lacks."""
    names = [row[0] for row in header["shared"]] + header["rest"] + [
        row[0] for row in header.get("native_rest", [])]
    if len(set(names)) != len(names):
        raise FormatError("a tensor name appears twice in the header")
    expected = {*(() if header["coding"] == "native" else ("codebook",)), "bitstream",
                *TABLES[header["coding"]]} | {f"rest.{n}" for n in header["rest"]}
    if set(tensors) != expected:
        extra, missing = sorted(set(tensors) - expected), sorted(expected - set(tensors))
        raise FormatError(f"stored tensors do not match the header (missing {missing}, unexpected {extra})")
    for key, dtype in TABLE_DTYPES.items():
        t = tensors.get(key)
        if t is not None and (str(t.dtype) != f"torch.{dtype}" or t.dim() != 1):
            raise FormatError(f"tensor {key!r} has the wrong dtypes or shape (want a 1-D {dtype})")


def _bitstream(header: dict, n_bytes: int) -> None:
    n_bits = header["n_bits"]
    if n_bytes != (n_bits + 7) // 8 and not (n_bits == 0 and n_bytes == 1):
        raise FormatError(f"the bitstream holds {n_bytes} bytes, the header says {n_bits} bits")


def _huffman(header: dict, count: np.ndarray, symbol: np.ndarray) -> None:
    """One canonical table: a prefix code (Kraft) over distinct symbols of the codebook."""
    n, n_bits, d = header["n_weights"], header["n_bits"], header["d"]
    counts = [int(c) for c in count[:MAX_CODE_LENGTH + 2]]
    if not 2 <= len(counts) <= MAX_CODE_LENGTH + 1 or counts[0] != 0 or min(counts) < 0:
        raise FormatError("Huffman table is malformed (code lengths 1..31 only)")
    if sum(counts) != symbol.size or not symbol.size:
        raise FormatError("Huffman table's counts do not add up to its symbols")
    longest = len(counts) - 1
    if sum(c << (longest - length) for length, c in enumerate(counts)) > 1 << longest:
        raise FormatError("Huffman table is not a prefix code (Kraft sum over 1)")
    if symbol.min() < 0 or symbol.max() >= d or np.unique(symbol).size != symbol.size:
        raise FormatError("Huffman table's symbols are out of the codebook or repeated")
    if not n <= n_bits <= n * longest:
        raise FormatError(f"n_bits {n_bits} cannot hold {n} codes of 1..{longest} bits")


def kraft_ok(lengths: np.ndarray) -> bool:
    """Whether uint8 code lengths (0: no code) form a prefix code of at most 31-bit codes."""
    used = lengths[lengths > 0].astype(np.int64)
    if used.size == 0 or used.max() > MAX_CODE_LENGTH:
        return used.size == 0
    return int(np.sum(np.left_shift(np.int64(1), MAX_CODE_LENGTH - used))) <= 1 << MAX_CODE_LENGTH


def _layers(header: dict, sizes: list[int], shared: np.ndarray, own: np.ndarray) -> None:
    """Per-tensor rows ``[first symbol, table length, bits]`` against sizes and tables."""
    rows, d = header.get("layers"), header["d"]
    if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == 3 and all(is_int(v) for v in r) for r in rows):
        raise FormatError("the header's per-tensor rows are malformed")
    if len(rows) != len(sizes) or sum(r[2] for r in rows) != header["n_bits"]:
        raise FormatError("per-tensor bit counts do not add up to the header's")
    if shared.size != d or not kraft_ok(shared):
        raise FormatError("per-tensor tables do not match the codebook")
    start = 0
    for (lo, n, bits), size in zip(rows, sizes):
        if n < 0 or (n and not 0 <= lo <= d - n):
            raise FormatError("per-tensor tables do not match the codebook")
        table = own[start:start + n] if n else shared
        start += n
        if table.size < n or not kraft_ok(table) or (size and not table.any()):
            raise FormatError("per-tensor tables do not match their lengths")
        if not size <= bits <= size * MAX_CODE_LENGTH:
            raise FormatError(f"a tensor of {size} weights cannot take {bits} bits")
    if start != own.size:
        raise FormatError("per-tensor tables do not match their lengths")


def _adaptive(header: dict) -> None:
    """The context model's parameters as this wsbench codes them, the zero bin in the codebook,
    whole 32-bit words, and no more indices than the words can hold (what decoding allocates)."""
    from wsbench.codec import adaptive

    info, n, n_bits = header.get("adaptive"), header["n_weights"], header["n_bits"]
    if not isinstance(info, dict) or {k: v for k, v in info.items() if k != "zero"} != adaptive.params():
        raise FormatError("the header's adaptive-coding parameters are missing or not this wsbench's")
    if not is_int(info.get("zero")) or not 0 <= info["zero"] < header["d"]:
        raise FormatError("the adaptive coding's zero bin is outside the codebook")
    if n_bits % 32 or (n and not n_bits):
        raise FormatError(f"n_bits {n_bits} is not whole 32-bit words of a range coder")
    if n > adaptive.max_indices(n_bits):
        raise FormatError(f"{n_bits} bits of adaptive coding cannot hold {n} indices")
