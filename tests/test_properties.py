"""Property-based tests (issue 13): quantizer invariants, Huffman round trips, and the reader's
promise that a mutated file is refused with FormatError or decodes to the very same weights."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from wsb_files import build, parts

import wsbench
from wsbench import plugins
from wsbench.codec import huffman, layer_coding
from wsbench.errors import FormatError

SCALE = float(os.environ.get("WSBENCH_HYPOTHESIS_SCALE", "1"))  # e.g. 20 for a long local hunt
FAST = settings(max_examples=int(60 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
READER = settings(max_examples=int(150 * SCALE), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

weights = arrays(np.float32, st.integers(1, 600),
                 elements=st.floats(-100, 100, width=32, allow_nan=False, allow_infinity=False))


# -- quantizers -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["uniform", "kmeans"])
@FAST
@given(w=weights, k=st.integers(2, 300))
def test_quantizer_invariants(name, w, k):
    quantizer = plugins.create("quantizer", name)
    q = quantizer.quantize(torch.from_numpy(w), k)
    idx, codebook = q.indices.numpy(), q.codebook.numpy()
    assert 1 <= q.d <= k and codebook.shape == (q.d,) and idx.shape == w.shape
    assert idx.min() >= 0 and idx.max() < q.d
    assert np.unique(idx).size == q.d  # no empty bins
    assert codebook.min() >= w.min() and codebook.max() <= w.max()
    again = quantizer.quantize(torch.from_numpy(w.copy()), k)
    assert torch.equal(again.indices, q.indices) and torch.equal(again.codebook, q.codebook)
    if name == "uniform":  # each shared value is the mean of its members
        means = np.bincount(idx, weights=w.astype(np.float64)) / np.bincount(idx)
        np.testing.assert_allclose(codebook, means, rtol=1e-6, atol=1e-6)


# -- Huffman coding ---------------------------------------------------------------------------
indices = st.integers(1, 200).flatmap(
    lambda d: st.tuples(st.just(d), st.lists(st.integers(0, d - 1), min_size=1, max_size=800)))


@FAST
@given(case=indices)
def test_huffman_round_trip(case):
    d, idx = case
    idx = np.array(idx)
    table = huffman.build_table(np.bincount(idx, minlength=d))
    data, n_bits = huffman.encode(idx, table)
    assert n_bits == int(table.lengths(d)[idx].sum()) and len(data) == (n_bits + 7) // 8
    assert np.array_equal(huffman.decode(data, n_bits, idx.size, table), idx)


@FAST
@given(case=indices, cuts=st.lists(st.integers(0, 800), max_size=6))
def test_per_tensor_huffman_round_trip(case, cuts):
    d, idx = case
    idx = np.array(idx)
    bounds = sorted({0, idx.size, *(c for c in cuts if c <= idx.size)})
    sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    code = layer_coding.encode(idx, sizes, d)
    assert np.array_equal(layer_coding.decode(code, sizes), idx)
    global_bits = huffman.encode(idx, huffman.build_table(np.bincount(idx, minlength=d)))[1]
    assert code.total_bits <= global_bits


# -- the compressed-file reader ----------------------------------------------------------------
def _model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3), nn.LayerNorm(3))


@pytest.fixture(scope="module", params=["huffman", "huffman-layer", "fixed"])
def valid_file(request):
    cm = wsbench.compress_model(_model(), 6, coding=request.param)
    return cm.to_bytes(), cm.state_dict()


def _load_or_refuse(tmp_path, raw: bytes):
    """The decoded state dict, or None when refused with FormatError (any other error fails)."""
    path = tmp_path / "m.wsb"
    path.write_bytes(raw)
    try:
        return wsbench.load_state_dict(path)
    except FormatError:
        return None


def _same(state: dict, expected: dict) -> bool:
    return state.keys() == expected.keys() and all(
        state[k].dtype == v.dtype and state[k].shape == v.shape and torch.equal(state[k], v)
        for k, v in expected.items())


mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 8)),
)


def _mutate(raw: bytes, mutation) -> bytes:
    kind, pos, arg = mutation
    pos %= len(raw)
    if kind == "flip":
        return raw[:pos] + bytes([raw[pos] ^ arg]) + raw[pos + 1:]
    if kind == "insert":
        return raw[:pos] + arg + raw[pos:]
    return raw[:pos] + raw[pos + arg:]


@READER
@given(mutation=st.lists(mutations, min_size=1, max_size=3))
def test_mutated_bytes_are_refused_or_decode_to_the_same_weights(tmp_path, valid_file, mutation):
    raw, expected = valid_file
    for m in mutation:
        raw = _mutate(raw, m)
    state = _load_or_refuse(tmp_path, raw)
    assert state is None or _same(state, expected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)
FIELDS = ["coding", "n_weights", "n_bits", "k", "d", "quantizer", "include", "shared", "rest",
          "extra", "layers", "sha256", "shared.0", "shared.0.0", "shared.0.1", "shared.0.2", "shared.1",
          "layers.0", "layers.0.0", "layers.1.2", "rest.0"]


def _get(header: dict, field: str):
    target = header
    for step in field.split("."):
        if isinstance(target, dict):
            target = target.get(step)
        elif isinstance(target, list) and int(step) < len(target):
            target = target[int(step)]
        else:
            return None
    return target


def plausible(header: dict, field: str) -> st.SearchStrategy:
    """Values an editor would try: near the old integer, the list reordered, another name."""
    old = _get(header, field)
    names = [row[0] for row in header["shared"]] + header["rest"] + ["codebook"]
    if isinstance(old, bool) or old is None:
        return json_values
    if isinstance(old, int):
        return st.integers(old - 3, old + 3)
    if isinstance(old, list) and old:
        return st.permutations(old)
    if isinstance(old, str):
        return st.sampled_from([*names, "huffman", "huffman-layer", "fixed", old.upper()])
    return json_values


def _edit(header: dict, field: str, value) -> None:
    """Set ``field`` (dotted path into lists) to ``value``; a path that does not exist is added."""
    *path, last = field.split(".")
    target = header
    for step in path:
        target = target.get(step) if isinstance(target, dict) else (
            target[int(step)] if isinstance(target, list) and int(step) < len(target) else None)
    if isinstance(target, dict):
        target[last] = value
    elif isinstance(target, list) and int(last) < len(target):
        target[int(last)] = value
    else:
        header[field] = value


@READER
@given(field=st.sampled_from(FIELDS), data=st.data(), rehash=st.booleans())
def test_edited_header_fields_are_refused_or_decode_to_the_same_weights(tmp_path, valid_file, field,
                                                                       data, rehash):
    raw, expected = valid_file
    meta, header, tensors = parts(raw)
    _edit(header, field, data.draw(st.one_of(json_values, plausible(header, field))))
    state = _load_or_refuse(tmp_path, build(meta, header, tensors, rehash=rehash))
    if not rehash:  # the checksum covers the header: any real change is refused
        assert state is None or _same(state, expected)
    # rehashed (a deliberately crafted file): FormatError or a load, never another exception


SAME_SIZE = {1: [torch.uint8, torch.int8, torch.bool], 2: [torch.float16, torch.bfloat16, torch.int16],
             4: [torch.float32, torch.int32], 8: [torch.int64, torch.float64]}


@READER
@given(data=st.data())
def test_retyped_or_reshaped_tensors_are_refused_or_decode_to_the_same_weights(tmp_path, valid_file, data):
    """Same bytes, another declared dtype or shape: only a checksum over both can tell."""
    raw, expected = valid_file
    meta, header, tensors = parts(raw)
    key = data.draw(st.sampled_from(sorted(tensors)))
    t = tensors[key]
    if data.draw(st.booleans()):
        dtype = data.draw(st.sampled_from(SAME_SIZE[t.element_size()]))
        tensors[key] = t.view(dtype) if t.dtype != torch.bool and dtype != torch.bool else t.to(dtype)
    else:
        tensors[key] = t.reshape(data.draw(st.sampled_from([(-1,), (1, -1), (-1, 1)])))
    state = _load_or_refuse(tmp_path, build(meta, header, tensors, rehash=False))
    assert state is None or _same(state, expected)


@READER
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes_are_refused(tmp_path, raw):
    assert _load_or_refuse(tmp_path, raw) is None


@pytest.mark.parametrize("source", ["v1-huffman.wsb", "v1-fixed.wsb", "v2-huffman-layer.wsb"])
@READER
@given(field=st.sampled_from(FIELDS), data=st.data())
def test_edited_old_version_headers_never_raise_another_error(tmp_path, source, field, data):
    from pathlib import Path

    meta, header, tensors = parts((Path(__file__).parent / "data" / source).read_bytes())
    _edit(header, field, data.draw(st.one_of(json_values, plausible(header, field))))
    _load_or_refuse(tmp_path, build(meta, header, tensors, rehash=False))
    _load_or_refuse(tmp_path, build(meta, header, tensors, rehash=True))


def test_json_edit_helper_reaches_nested_fields():
    header = {"shared": [["a", [2, 3], "float32"]], "layers": [[0, 1, 2]]}
    _edit(header, "shared.0.1", [9])
    _edit(header, "layers.0", "x")
    assert header == {"shared": [["a", [9], "float32"]], "layers": ["x"]}
    assert json.dumps(header)
