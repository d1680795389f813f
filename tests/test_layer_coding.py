"""Per-tensor Huffman coding: lossless, never more bits than one shared table, tables only
where they pay, and a corrupted per-tensor header is one FormatError."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from wsb_files import rewrite

import wsbench
from wsbench.codec import huffman, layer_coding
from wsbench.errors import FormatError


def _two_scale_model() -> nn.Module:
    """Two large layers of very different weight scales and one tiny layer."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 2))
    with torch.no_grad():
        model[0].weight.normal_(0, 1.0)
        model[1].weight.normal_(0, 0.05)
        model[2].weight.normal_(0, 0.5)
    return model


def test_round_trip_is_exact_and_decodes_each_tensor_with_its_own_table():
    rng = np.random.default_rng(1)
    sizes = [5000, 3000, 7, 0, 4000]
    parts = [rng.integers(0, 40, 5000), rng.integers(10, 14, 3000), rng.integers(0, 40, 7),
             np.zeros(0, dtype=np.int64), np.full(4000, 3)]
    idx = np.concatenate(parts)
    code = layer_coding.encode(idx, sizes, 40)
    assert np.array_equal(layer_coding.decode(code, sizes), idx)
    own = [t.size > 0 for _, t in code.tables]
    # the narrow and the constant tensor pay for their tables; 7 weights and 0 weights do not
    assert own == [True, True, False, False, True]
    assert code.n_bits[4] == 4000  # one symbol still costs one bit per weight
    assert code.n_bits[3] == 0


def test_never_more_bits_than_the_shared_table_and_fewer_when_layers_differ():
    model = _two_scale_model()
    for k in (8, 33, 200):
        g = wsbench.compress_model(model, k, coding="huffman")
        lay = wsbench.compress_model(model, k, coding="huffman-layer")
        assert lay._encoded[2] <= g._encoded[2]
    g = wsbench.compress_model(model, 64, coding="huffman")
    lay = wsbench.compress_model(model, 64, coding="huffman-layer")
    # the small-scale layer sits in a few central bins: its own table saves at least 10%
    assert lay.avg_bits < 0.9 * g.avg_bits
    assert lay.cr_paper > g.cr_paper
    assert lay.file_size < g.file_size
    tables = lay._encoded[0].tables
    assert tables[1][1].size > 0 and tables[2][1].size == 0  # 128 weights use the shared table


def test_shared_table_matches_the_global_huffman_code_lengths():
    rng = np.random.default_rng(2)
    idx = rng.geometric(0.3, 10_000) - 1
    d = int(idx.max()) + 1
    code = layer_coding.encode(idx, [10_000], d)
    freq = np.bincount(idx, minlength=d)
    expected = huffman.build_table(freq).lengths(d)
    assert np.array_equal(code.shared_lengths.astype(np.int64), expected)
    assert code.total_bits <= int((freq * expected).sum())


def test_file_round_trip_loads_into_the_model(tmp_path):
    model = _two_scale_model()
    cm = wsbench.compress_model(model, 64, coding="huffman-layer")
    path = cm.save(tmp_path / "m.wsb")
    state = wsbench.load_state_dict(path)
    ref = wsbench.compress_model(model, 64, coding="huffman").state_dict()
    for name, t in ref.items():
        assert torch.equal(state[name], t), name
    fresh = _two_scale_model()
    fresh.load_state_dict(state)


def _set_row(row, col, value):
    def edit(header):
        header["layers"][row][col] = value
    return edit


def _saved(tmp_path):
    path = wsbench.compress_model(_two_scale_model(), 64, coding="huffman-layer").save(tmp_path / "m.wsb")
    header = json.loads(json.loads(path.read_bytes()[8:8 + int.from_bytes(path.read_bytes()[:8], "little")])
                        ["__metadata__"]["header"])
    assert header["layers"][0][1] > 0 and header["layers"][1][1] > 0  # both have their own table
    return path


@pytest.mark.parametrize("edit, message", [
    (_set_row(0, 1, 3), "tables do not match"),
    (_set_row(1, 1, -5), "do not match the codebook"),
    (_set_row(1, 0, -3), "do not match the codebook"),
    (_set_row(1, 0, 2**80), "do not match the codebook"),
    (_set_row(1, 0, 1.5), "rows are malformed"),
    (_set_row(1, 0, float("inf")), "rows are malformed"),
    (_set_row(0, 2, 10**9), "do not add up"),
    (lambda h: h["layers"].pop(), "do not add up"),
    (lambda h: h.__setitem__("layers", "x"), "rows are malformed"),
    (lambda h: h.__setitem__("coding", "arithmetic"), "unknown coding"),
    (lambda h: h.__setitem__("n_bits", float("inf")), "'n_bits' must be an integer"),
    (lambda h: h.__setitem__("d", 10**30), "does not match the codebook"),
])
def test_inconsistent_per_tensor_header_is_one_format_error(tmp_path, edit, message):
    path = _saved(tmp_path)
    rewrite(path, edit_header=edit)
    with pytest.raises(FormatError, match=message):
        wsbench.load_state_dict(path)


def test_wrong_table_dtype_is_one_format_error(tmp_path):
    path = _saved(tmp_path)
    rewrite(path, edit_tensors=lambda t: t.__setitem__("layers.lengths", t["layers.lengths"].to(torch.int16)))
    with pytest.raises(FormatError, match="wrong dtypes"):
        wsbench.load_state_dict(path)


def test_the_checksum_covers_the_header(tmp_path):
    # shifting a tensor's first symbol by one would decode a different model without error
    path = _saved(tmp_path)
    rewrite(path, edit_header=lambda h: h["layers"][1].__setitem__(0, h["layers"][1][0] + 1), rehash=False)
    with pytest.raises(FormatError, match="checksum mismatch"):
        wsbench.load_state_dict(path)


def test_codes_too_long_for_the_decoder_fall_back_to_the_shared_table(monkeypatch):
    # Fibonacci-like counts give a Huffman code one bit longer per symbol
    fib = [1, 1]
    while len(fib) < 12:
        fib.append(fib[-1] + fib[-2])
    skewed = np.repeat(np.arange(12), fib)
    flat = np.repeat(np.arange(12), 50)
    idx = np.concatenate([flat, skewed])
    sizes = [flat.size, skewed.size]
    assert layer_coding.code_lengths(np.bincount(skewed)).max() == 11
    monkeypatch.setattr(layer_coding, "MAX_CODE_LENGTH", 10)
    code = layer_coding.encode(idx, sizes, 12)  # the shared table stays within 10 bits
    assert code.tables[1][1].size == 0
    assert np.array_equal(layer_coding.decode(code, sizes), idx)
    with pytest.raises(ValueError, match="longer than 10 bits"):
        layer_coding.encode(skewed, [skewed.size], 12)


def test_unknown_coding_is_refused_when_compressing():
    with pytest.raises(ValueError, match="huffman-layer"):
        wsbench.compress_model(_two_scale_model(), 8, coding="zip").avg_bits
