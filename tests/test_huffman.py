"""Huffman coding: exact round trip, a prefix code (Kraft), and within 1 bit of the entropy."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.codec import huffman


@pytest.mark.parametrize("seed,d", [(0, 2), (1, 7), (2, 300), (3, 1024)])
def test_round_trip_and_bounds(seed, d):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(d, 0.3))
    idx = rng.choice(d, size=20_000, p=p)
    freq = np.bincount(idx, minlength=d)
    table = huffman.build_table(freq)
    data, n_bits = huffman.encode(idx, table)
    assert len(data) == (n_bits + 7) // 8
    np.testing.assert_array_equal(huffman.decode(data, n_bits, idx.size, table), idx)
    lengths = table.lengths(d)[freq > 0]
    assert (2.0 ** -lengths).sum() <= 1.0 + 1e-12  # Kraft inequality
    mean = huffman.mean_code_length(freq, table)
    h = huffman.entropy_bits(freq)
    assert h - 1e-9 <= mean < h + 1
    assert n_bits == int((freq * table.lengths(d)).sum())


def test_codes_are_prefix_free():
    freq = np.array([50, 20, 10, 10, 5, 3, 2])
    table = huffman.build_table(freq)
    values, lengths = table.codes(len(freq))
    words = [format(int(v), f"0{int(n)}b") for v, n in zip(values, lengths)]
    for a in words:
        for b in words:
            assert a == b or not b.startswith(a)


def test_single_symbol_and_errors():
    table = huffman.build_table(np.array([0, 0, 9]))
    data, n_bits = huffman.encode(np.full(9, 2), table)
    assert n_bits == 9
    np.testing.assert_array_equal(huffman.decode(data, n_bits, 9, table), np.full(9, 2))
    with pytest.raises(ValueError):
        huffman.build_table(np.zeros(4))
    with pytest.raises(ValueError):
        huffman.encode(np.array([0, 1]), table)  # symbol 0 has no code
