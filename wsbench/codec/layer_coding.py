"""Per-tensor Huffman coding of one global codebook's indices (coding ``huffman-layer``).

The codebook stays global, as in the paper, but the index statistics are not: a layer whose
weights are small uses a few central bins, a layer with large weights many. Coding each tensor
with its own canonical Huffman table therefore needs fewer bits than one table for all weights
(lossless: the decoded model is identical). A table costs side information, so a tensor gets
its own table only when the bits it saves pay for the table; otherwise it uses the shared one.

Tables are stored as one uint8 code length per symbol (0: no code) over the range of symbols
the tensor uses, and rebuilt canonically (sorted by length, then symbol) on both sides. What
the decoder needs per tensor (first symbol, table length, bits) is in the file's header, which
the checksum covers from format version 2 on: an edited header cannot decode into a different
model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wsbench.codec import huffman
from wsbench.codec.fileformat_checks import MAX_CODE_LENGTH  # the longest code bitarray decodes

TABLE_META_BITS = 64  # what an own table adds to the tensor's entry in the header, roughly


def table_from_lengths(lengths: np.ndarray, offset: int = 0) -> huffman.HuffmanTable:
    """The canonical table of per-symbol code lengths (symbol ``offset + i`` has ``lengths[i]``)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    used = np.flatnonzero(lengths)
    if used.size == 0:
        raise ValueError("a Huffman table needs at least one symbol with a code")
    order = used[np.lexsort((used, lengths[used]))]
    count = np.bincount(lengths[used], minlength=int(lengths.max()) + 1)
    count[0] = 0
    return huffman.HuffmanTable(count.astype(np.int64), (order + offset).astype(np.int64))


def code_lengths(frequencies: np.ndarray) -> np.ndarray:
    """Huffman code length of every symbol (0 where the frequency is 0), as uint8."""
    freq = np.asarray(frequencies)
    lengths = huffman.build_table(freq).lengths(len(freq))
    if lengths.max(initial=0) > MAX_CODE_LENGTH:
        raise ValueError(f"a Huffman code is longer than {MAX_CODE_LENGTH} bits "
                         f"(extremely skewed index counts)")
    return lengths.astype(np.uint8)


@dataclass
class LayerCode:
    """The coded indices: shared table, per-tensor tables, and one concatenated bitstream."""

    shared_lengths: np.ndarray           # uint8[d]
    tables: list[tuple[int, np.ndarray]]  # per tensor: (first symbol, uint8 lengths); empty = shared
    n_bits: list[int]                     # bits of each tensor's codes
    data: bytes

    @property
    def total_bits(self) -> int:
        return int(sum(self.n_bits))

    def table_bytes(self) -> int:
        return int(self.shared_lengths.size + sum(t.size for _, t in self.tables))


def encode(indices: np.ndarray, sizes: list[int], d: int) -> LayerCode:
    """Code ``indices`` (pooled in tensor order, ``sizes`` per tensor) with per-tensor tables."""
    from bitarray import bitarray

    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if sum(sizes) != idx.size:
        raise ValueError(f"tensor sizes add up to {sum(sizes)}, not {idx.size} indices")
    shared = code_lengths(np.bincount(idx, minlength=d))
    shared_table = table_from_lengths(shared)
    stream = bitarray(endian="big")
    tables, n_bits = [], []
    offset = 0
    for size in sizes:
        part = idx[offset:offset + size]
        offset += size
        own: tuple[int, np.ndarray] = (0, np.zeros(0, dtype=np.uint8))
        table = shared_table
        if part.size:
            lo, hi = int(part.min()), int(part.max())
            freq = np.bincount(part - lo, minlength=hi - lo + 1)
            try:
                lengths = code_lengths(freq)
            except ValueError:  # too long for the decoder: the shared table serves
                lengths = None
            if lengths is not None and (int((freq * lengths).sum()) + 8 * lengths.size
                                        + TABLE_META_BITS < int((freq * shared[lo:hi + 1]).sum())):
                own, table = (lo, lengths), table_from_lengths(lengths, lo)
        before = len(stream)
        if part.size:
            huffman.encode_bits(part, table, stream)
        tables.append(own)
        n_bits.append(len(stream) - before)
    return LayerCode(shared, tables, n_bits, stream.tobytes())


def decode(code: LayerCode, sizes: list[int]) -> np.ndarray:
    """The pooled indices back from a :class:`LayerCode`."""
    from bitarray import bitarray

    if len(sizes) != len(code.n_bits) or len(code.tables) != len(sizes):
        raise ValueError("the per-tensor coding does not match the shared tensors")
    stream = bitarray(endian="big")
    stream.frombytes(bytes(code.data))
    if code.total_bits > len(stream):
        raise ValueError("bitstream is shorter than its header says")
    shared_table = table_from_lengths(code.shared_lengths) if sizes else None
    out = np.empty(sum(sizes), dtype=np.int64)
    start, offset = 0, 0
    for size, bits, (lo, lengths) in zip(sizes, code.n_bits, code.tables):
        if size:
            table = table_from_lengths(lengths, lo) if lengths.size else shared_table
            out[offset:offset + size] = huffman.decode_bits(stream[start:start + bits], size, table)
        start += bits
        offset += size
    return out


def to_file(code: LayerCode) -> tuple[dict[str, np.ndarray], list[list[int]]]:
    """What a file stores: the shared and own tables as arrays, and per tensor the header row
    ``[first symbol, table length (0: the shared table), bits]``."""
    own = [t for _, t in code.tables if t.size]
    arrays = {"huffman.lengths": code.shared_lengths.astype(np.uint8),
              "layers.lengths": np.concatenate(own).astype(np.uint8) if own else np.zeros(0, np.uint8)}
    return arrays, [[int(lo), int(t.size), int(bits)] for (lo, t), bits in zip(code.tables, code.n_bits)]


def from_file(arrays: dict[str, np.ndarray], rows: list, data: bytes, n_bits: int, d: int) -> LayerCode:
    """The inverse of :func:`to_file`. The reader has checked ``rows`` against the tables, the
    codebook and ``n_bits`` already (:mod:`wsbench.codec.fileformat_checks`)."""
    shared = np.asarray(arrays["huffman.lengths"])
    own = np.asarray(arrays["layers.lengths"])
    if shared.dtype != np.uint8 or own.dtype != np.uint8 or shared.size != d:
        raise ValueError("per-tensor tables have the wrong dtypes")
    if sum(r[2] for r in rows) != n_bits:
        raise ValueError("per-tensor bit counts do not add up to the header's")
    tables, start = [], 0
    for lo, n, _bits in rows:
        tables.append((lo, own[start:start + n]))
        start += n
    return LayerCode(shared, tables, [r[2] for r in rows], data)
