"""Canonical Huffman coding of codebook indices, with a real bitstream.

The code table is stored canonically (how many codes of each length, and the symbols in
code order), so a decoder needs no tree. Code construction and decoding use ``bitarray``'s
C implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 20  # indices handed to the C encoder at once


@dataclass
class HuffmanTable:
    count: np.ndarray   # count[l] = number of codes of length l (count[0] == 0)
    symbol: np.ndarray  # symbols in canonical order

    def lengths(self, n_symbols: int) -> np.ndarray:
        """Code length of every symbol 0..n_symbols-1 (0 for symbols with no code)."""
        out = np.zeros(n_symbols, dtype=np.int64)
        out[self.symbol] = np.repeat(np.arange(len(self.count)), self.count)
        return out

    def codes(self, n_symbols: int) -> tuple[np.ndarray, np.ndarray]:
        """Canonical code values and lengths per symbol, as in DEFLATE."""
        lengths = self.lengths(n_symbols)
        values = np.zeros(n_symbols, dtype=np.uint64)
        code = 0
        pos = 0
        for length in range(1, len(self.count)):
            for _ in range(int(self.count[length])):
                values[self.symbol[pos]] = code
                code += 1
                pos += 1
            code <<= 1
        return values, lengths


def build_table(frequencies: np.ndarray) -> HuffmanTable:
    """A canonical Huffman table for symbols with the given (non-negative) frequencies."""
    from bitarray.util import canonical_huffman

    freq = {int(s): int(f) for s, f in enumerate(frequencies) if f > 0}
    if not freq:
        raise ValueError("cannot build a Huffman code with no symbols")
    if len(freq) == 1:  # one symbol still needs one bit per occurrence to be decodable
        (sym,) = freq
        return HuffmanTable(np.array([0, 1], dtype=np.int64), np.array([sym], dtype=np.int64))
    _, count, symbol = canonical_huffman(freq)
    return HuffmanTable(np.asarray(count, dtype=np.int64), np.asarray(symbol, dtype=np.int64))


def encode_bits(indices: np.ndarray, table: HuffmanTable, stream=None):
    """Append the codes of ``indices`` (ints) to ``stream`` (a new big-endian bitarray if None).

    The indices go to bitarray's C encoder a chunk at a time, so the Python ints it needs
    never exist for more than ``_CHUNK`` indices at once.
    """
    from bitarray import bitarray
    from bitarray.util import int2ba

    indices = np.asarray(indices).reshape(-1)
    n_symbols = max(int(table.symbol.max(initial=-1)), int(indices.max(initial=0))) + 1
    values, lengths = table.codes(n_symbols)
    codedict = {int(s): int2ba(int(values[s]), length=int(lengths[s]), endian="big")
                for s in np.flatnonzero(lengths)}
    stream = bitarray(endian="big") if stream is None else stream
    try:
        for start in range(0, indices.size, _CHUNK):
            stream.encode(codedict, indices[start:start + _CHUNK].tolist())
    except ValueError as exc:
        raise ValueError(f"an index has no Huffman code: {exc}") from exc
    return stream


def encode(indices: np.ndarray, table: HuffmanTable) -> tuple[bytes, int]:
    """Encode ``indices`` (ints) to a big-endian bitstream; returns (bytes, number of bits)."""
    stream = encode_bits(indices, table)
    return stream.tobytes(), len(stream)


def decode_bits(stream, n_values: int, table: HuffmanTable) -> np.ndarray:
    """Decode exactly ``n_values`` symbols from a bitarray holding only their codes."""
    from bitarray.util import canonical_decode

    out = np.fromiter(canonical_decode(stream, table.count.tolist(), table.symbol.tolist()),
                      dtype=np.int64, count=n_values)
    if n_values and int(table.lengths(int(table.symbol.max()) + 1)[out].sum()) != len(stream):
        raise ValueError("the bitstream holds more bits than its codes")  # stop after n_values
    return out


def decode(data: bytes, n_bits: int, n_values: int, table: HuffmanTable) -> np.ndarray:
    """Decode exactly ``n_values`` symbols from a bitstream made by :func:`encode`."""
    from bitarray import bitarray

    stream = bitarray(endian="big")
    stream.frombytes(bytes(data))
    if n_bits > len(stream):
        raise ValueError("bitstream is shorter than its header says")
    del stream[n_bits:]
    return decode_bits(stream, n_values, table)


def mean_code_length(frequencies: np.ndarray, table: HuffmanTable) -> float:
    """Average bits per symbol of the code under the given frequencies."""
    freq = np.asarray(frequencies, dtype=np.float64)
    lengths = table.lengths(len(freq))
    return float((freq * lengths).sum() / freq.sum())


def entropy_bits(frequencies: np.ndarray) -> float:
    """Shannon entropy in bits per symbol; the bound a Huffman code is within 1 bit of."""
    p = np.asarray(frequencies, dtype=np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())
