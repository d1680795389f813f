"""The compressed-model file: a safetensors container with a versioned JSON header.

Layout (all tensors little-endian, as safetensors stores them):

* metadata ``format`` = ``wsbench-compressed``, ``version`` = ``3`` (``4`` for coding
  ``adaptive``, ``5`` for ``native``, which older readers do not know), ``header`` = JSON (from
  version 5 ``header_z``: the same JSON, zlib-compressed, base85) with
  ``coding`` (``huffman``, ``huffman-layer``, ``adaptive`` or ``fixed``), ``n_weights``, ``n_bits``, ``k``, ``d``,
  ``quantizer``, ``include``, ``shared`` (``[name, shape, dtype]`` in pooling order),
  ``rest`` (names of the fp32 remainder), ``nonfinite`` (the rest tensors that hold NaN or inf,
  only where some do: any other decoded NaN or inf is refused) and ``sha256``: from version 3 on
  over the header (less ``sha256``) and every tensor's name, dtype, shape and bytes, so that no
  edit of a header field or of a tensor's declared dtype or shape can load as another model.
  Version 1 (codings ``huffman`` and ``fixed``) covered the tensors' names and bytes only,
  version 2 (coding ``huffman-layer``) the header too; both are still read, after the same
  consistency checks (:mod:`wsbench.codec.fileformat_checks`);
* metadata ``sha256`` (written from issue 29 on, any version >= 3; older files lack it): over the
  tensors as version 3 hashes them, then the other metadata strings as stored (the header's
  compressed text, not its parse), so a corrupted file is refused before its header is expanded
  or parsed. Readers that predate it ignore it;
* ``codebook`` float32[d], the shared values;
* ``huffman.count`` / ``huffman.symbol`` int64, the canonical code table (coding ``huffman``);
* ``huffman.lengths`` uint8[d], the shared table's code lengths, and ``layers.lengths`` uint8,
  the concatenated per-tensor tables (coding ``huffman-layer``; the header's ``layers`` lists
  ``[first symbol, table length (0: the shared table), bits]`` per shared tensor);
* ``bitstream`` uint8, the indices of all shared weights (Huffman codes or fixed-width, MSB first;
  for ``adaptive`` the range coder's 32-bit words, little-endian, with the header's ``adaptive``
  holding the zero bin and the context model's parameters, :mod:`wsbench.codec.adaptive`);
* ``rest.<name>``: every other state-dict entry (biases, norms, buffers) unchanged.

Loading uses safetensors only: nothing is ever unpickled. Only a regular file under the size cap
of :mod:`wsbench.files.safe_io` is read, a compressed header expands to at most
:func:`header_cap` bytes, and the header is checked against the tensors and the file's size
before anything is decoded, so what decoding allocates is bounded by what the file holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wsbench.codec import fileformat_checks
from wsbench.codec.fileformat_checks import fixed_width  # noqa: F401 (fileformat.fixed_width: compress.py)
from wsbench.errors import FormatError
from wsbench.files.safe_io import read_regular_file

if TYPE_CHECKING:
    import torch

FORMAT = "wsbench-compressed"
VERSION = 5     # the newest: the header zlib-compressed (checksum as version 3's)
READS = tuple(str(v) for v in range(1, VERSION + 1))
NEW_CODINGS = {"adaptive": 4, "native": 4}  # codings first written in a later version; the rest are written as 3
# what each coding is written as now: native files list every coded tensor's name, shape and
# dtype (a ResNet-20 has 97): as JSON inside safetensors' JSON that was ~6 kB, compressed ~1 kB
WRITES = {**NEW_CODINGS, "native": 5}
MAX_HEADER = 64 << 20  # bytes a compressed header may ever expand to
HEADER_BASE, HEADER_PER_BYTE = 1 << 20, 4  # what a file of n bytes may: 1 MiB + 4 n (header_cap)
STORED = "sha256"  # the metadata key of the checksum over the file as stored


def header_cap(file_bytes: int) -> int:
    """The most bytes the compressed header of a file of ``file_bytes`` may expand to: 1 MiB
    (the rows of some 10,000 tensors) plus 4 per byte of the file, at most MAX_HEADER. Why:
    parsed, JSON takes up to ~25 times its size in memory, and a real header is far smaller
    than the weights it describes (a ResNet-20's is 6 kB beside 60-120 kB of weights)."""
    return min(MAX_HEADER, HEADER_BASE + HEADER_PER_BYTE * int(file_bytes))


def version_for(coding: str) -> int:
    """The version a file of ``coding`` is written as: 3 (whose checksum binds header, dtypes,
    shapes and bytes) unless the coding is newer, so older readers still read the older codings."""
    return WRITES.get(coding, 3)
SUFFIX = ".wsb"


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
    """The inverse of :func:`pack_fixed`; a stream too short for ``n_values`` is refused."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size * 8 < n_values * bits or not 1 <= bits <= 32:
        raise ValueError(f"bitstream of {raw.size} bytes cannot hold {n_values} {bits}-bit indices")
    out = np.empty(n_values, dtype=np.int64)
    step = _CHUNK * bits // 8
    for i, start in enumerate(range(0, n_values, _CHUNK)):
        n = min(_CHUNK, n_values - start)
        planes = np.unpackbits(raw[i * step:i * step + (n * bits + 7) // 8], count=n * bits)
        padded = np.zeros((n, 32), dtype=np.uint8)
        padded[:, 32 - bits:] = planes.reshape(n, bits)
        out[start:start + n] = np.packbits(padded, axis=1).view(">u4").reshape(-1)
    return out


def _tensor_hash(tensors: dict[str, "torch.Tensor"], version: int) -> "hashlib._Hash":
    """sha256 over every tensor (name and bytes; from version 3 on also dtype and shape) in name
    order. Version 3 hashes each tensor's name, dtype and shape as one JSON array: self-delimiting
    and, with the byte count they imply, it leaves no two files with the same hashed stream."""
    import torch

    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].contiguous().view(-1)
        if version >= 3:
            h.update(json.dumps([key, str(tensors[key].dtype), list(tensors[key].shape)]).encode())
        else:
            h.update(key.encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy().tobytes())
    return h


def _then(hashed: "hashlib._Hash", tail: bytes) -> str:
    """The digest of what ``hashed`` has seen, then ``tail`` (``hashed`` itself is left as is)."""
    h = hashed.copy()
    h.update(tail)
    return h.hexdigest()


def _header_bytes(header: dict | None, version: int) -> bytes:
    """What the header adds to the checksum: from version 2 on its JSON less ``sha256``."""
    if version < 2 or header is None:
        return b""
    return json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode()


def checksum(tensors: dict[str, "torch.Tensor"], header: dict | None, version: int) -> str:
    """The header's ``sha256``: over the tensors, then, from version 2 on, over the header
    without its own ``sha256``."""
    return _then(_tensor_hash(tensors, version), _header_bytes(header, version))


def stored_checksum(meta: dict[str, str], hashed: "hashlib._Hash") -> str:
    """The metadata's ``sha256``: over the tensors (``hashed``, as version 3 hashes them), then
    the other metadata strings as stored, so checking it needs no header expanded or parsed."""
    return _then(hashed, json.dumps({k: v for k, v in meta.items() if k != STORED},
                                    sort_keys=True).encode())


def write_bytes(header: dict, tensors: dict[str, "torch.Tensor"], version: int = VERSION) -> bytes:
    """Serialise header + tensors; the checksums are computed here so they always match.

    ``version`` below 3 exists for tests that need files as older releases wrote them.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    hashed = _tensor_hash(tensors, version)
    header = dict(header)
    header["sha256"] = _then(hashed, _header_bytes(header, version))
    text = json.dumps(header, separators=(",", ":"))
    stored = {"header_z": base64.b85encode(zlib.compress(text.encode(), 9)).decode()} \
        if version >= 5 else {"header": json.dumps(header)}
    meta = {"format": FORMAT, "version": str(version), **stored}
    if version >= 3:
        meta[STORED] = stored_checksum(meta, hashed)
    return _canonical(save(tensors, metadata=meta))


def _canonical(data: bytes) -> bytes:
    """``data`` with safetensors' metadata keys sorted. Its writer emits them in an order that
    changes from process to process, so the same model gave files of the same size but other
    bytes; sorted, the same content is the same file (a checksum of a file means something)."""
    import struct

    n = struct.unpack("<Q", data[:8])[0]
    raw = data[8:8 + n]
    text = raw.rstrip(b" ")  # safetensors pads its header with spaces
    obj = json.loads(text)
    if isinstance(obj.get("__metadata__"), dict):
        obj["__metadata__"] = dict(sorted(obj["__metadata__"].items()))
    new = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    if len(new) != len(text):  # not the compact JSON expected: leave the file as written
        return data
    return data[:8] + new + raw[len(text):] + data[8 + n:]


def read(path: str | Path) -> tuple[dict, dict[str, "torch.Tensor"]]:
    """Read and verify a compressed file; every failure is one FormatError line.

    The checksum of the file as stored is checked before its header is expanded or parsed; the
    header is then checked against the tensors and the file's size
    (:func:`wsbench.codec.fileformat_checks.check`) before the caller decodes anything.
    """
    path = Path(path)
    raw = read_regular_file(path, FormatError, "compressed file")
    try:
        meta, tensors = _container(raw)
        _version(meta)  # a newer version may checksum otherwise: say so, not "mismatch"
        hashed = _tensor_hash(tensors, 3)
        if STORED in meta and stored_checksum(meta, hashed) != meta[STORED]:
            raise FormatError("checksum mismatch, the file is corrupted")
        version, header = _header(meta, header_cap(len(raw)))
        try:
            expected = _then(hashed if version >= 3 else _tensor_hash(tensors, version),
                             _header_bytes(header, version))
        except (RecursionError, ValueError, TypeError):
            raise FormatError("header is missing or malformed") from None
        if expected != header.get("sha256"):
            raise FormatError("checksum mismatch, the file is corrupted")
        coding = header.get("coding")
        if isinstance(coding, str) and version < NEW_CODINGS.get(coding, 0):
            raise FormatError(f"coding {header.get('coding')!r} needs format version "
                              f"{NEW_CODINGS[header['coding']]}, the file says {version}")
        fileformat_checks.check(header, tensors, len(raw))
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    return header, tensors


def _container(raw: bytes) -> tuple[dict, dict[str, "torch.Tensor"]]:
    """The safetensors metadata and tensors (nothing is unpickled)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(raw)
        meta_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8:8 + meta_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError, RecursionError, AttributeError) as exc:
        raise FormatError(f"not a wsbench compressed file (corrupted or truncated: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise FormatError(f"not a wsbench compressed file (format {found!r})")
    return meta, tensors


def _expand(text: str, limit: int = MAX_HEADER) -> bytes:
    """A version-5 header: base85 of zlib, expanded to at most ``limit`` bytes."""
    z = zlib.decompressobj()
    out = z.decompress(base64.b85decode(text), limit)
    if z.unconsumed_tail:
        raise OverflowError(f"the header expands beyond the {limit:,} bytes this file may have")
    if not z.eof:
        raise ValueError("compressed header truncated")
    return out


def _version(meta: dict) -> int:
    if meta.get("version") not in READS:
        raise FormatError(f"format version {meta.get('version')} is not supported "
                          f"(this wsbench reads versions {', '.join(READS)})")
    return int(meta["version"])


def _header(meta: dict, limit: int = MAX_HEADER) -> tuple[int, dict]:
    """The version and the parsed header (a compressed one expanded to at most ``limit``)."""
    _version(meta)
    try:
        header = json.loads(_expand(meta["header_z"], limit) if int(meta["version"]) >= 5 else meta["header"])
    except OverflowError as exc:
        raise FormatError(f"header is missing or malformed ({exc})") from None
    except (KeyError, TypeError, ValueError, RecursionError, zlib.error):
        raise FormatError("header is missing or malformed") from None
    if not isinstance(header, dict):
        raise FormatError("header is missing or malformed")
    return int(meta["version"]), header
