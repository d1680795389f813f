"""Coding ``adaptive``: context-adaptive binary arithmetic coding of the codebook indices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsb_files import rewrite

import wsbench
from wsbench.codec import adaptive, fileformat, huffman
from wsbench.errors import FormatError

SLACK_BITS = 0.35  # over one Huffman table, on unimodal indices (uniform ones: up to ~0.7 bits more)


@st.composite
def coded_indices(draw):
    """Indices of a few tensors over a sorted codebook: peaked (as weights are) or uniform."""
    d = draw(st.integers(1, 300))
    sizes = draw(st.lists(st.integers(0, 800), min_size=1, max_size=4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    peaked = draw(st.booleans())
    if not peaked:
        idx = rng.integers(0, d, n)
    else:
        scale = draw(st.floats(0.1, 20)) * max(d, 4) / 160  # unimodal: little mass clipped
        idx = np.clip(np.round(rng.laplace(d // 2, scale, n)), 0, d - 1)
    codebook = np.sort(rng.normal(size=d)).astype(np.float32)
    return idx.astype(np.int64), sizes, codebook, peaked


@given(case=coded_indices())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_is_exact_on_random_indices(case):
    idx, sizes, codebook, peaked = case
    code = adaptive.encode(idx, sizes, codebook)
    assert len(code.data) % 4 == 0 and code.zero == int(np.bincount(idx).argmax() if idx.size else 0)
    back = adaptive.decode(code.data, sizes, codebook.size, code.zero)
    assert np.array_equal(back, idx)
    if peaked and idx.size >= 400:  # weight-like indices: never much larger than one Huffman table
        _, huffman_bits = huffman.encode(idx, huffman.build_table(np.bincount(idx)))
        table_bits = 8 * np.unique(idx).size  # its table, at one byte per code length (it stores 16)
        assert code.total_bits <= huffman_bits + table_bits + SLACK_BITS * idx.size + 64


def test_probabilities_are_exact_integers():
    """constriction gets integer weights summing to 2^24 - 2: its quantisation rounds nothing."""
    for p in (adaptive.LOW, 12345, adaptive.ONE >> 1, adaptive.HIGH):
        w0, w1 = adaptive._weights(p)
        assert w0 + w1 == (1 << 24) - 2 and w0 > 0 and w1 > 0
        assert (w1 + 1) * adaptive.ONE == p * (1 << 24)  # P(1) exactly p / 2^16


@pytest.mark.parametrize("k", [16, 64, 256])
def test_real_quantizations_round_trip_and_code_smaller(digits_cnn, tmp_path, k):
    model = digits_cnn.model
    coded = {c: wsbench.compress_model(model, k, coding=c) for c in ("huffman", "huffman-layer", "adaptive")}
    cm = coded["adaptive"]
    assert cm.avg_bits < coded["huffman-layer"].avg_bits < coded["huffman"].avg_bits
    assert cm.file_size < coded["huffman"].file_size and cm.cr_file > coded["huffman"].cr_file
    path = cm.save(tmp_path / "m.wsb")
    assert cm.file_size == path.stat().st_size
    state = wsbench.load_state_dict(path)
    for name, t in cm.state_dict().items():
        assert torch.equal(state[name], t), name
    fresh = type(model)(*model.children())
    fresh.load_state_dict(state)
    expected = type(model)(*model.children())
    expected.load_state_dict(cm.state_dict())
    with torch.no_grad():  # the loaded model predicts exactly as the in-memory quantization
        x = digits_cnn.test_x[:64]
        assert torch.equal(fresh.eval()(x), expected.eval()(x))


def test_adaptive_files_are_version_4_the_others_stay_3(digits_cnn, tmp_path):
    """(Native files are 5, with their header compressed: tests/test_fileformat.py.)"""
    from wsb_files import parts

    for coding, version in (("adaptive", "4"), ("huffman", "3"), ("huffman-layer", "3"), ("fixed", "3")):
        meta, header, _ = parts(wsbench.compress_model(digits_cnn.model, 16, coding=coding).to_bytes())
        assert (meta["version"], header["coding"]) == (version, coding)
    assert fileformat.VERSION == 5 and fileformat.version_for("native") == 5


def _saved(digits_cnn, tmp_path):
    return wsbench.compress_model(digits_cnn.model, 16, coding="adaptive").save(tmp_path / "a.wsb")


@pytest.mark.parametrize("edit, message", [
    (lambda h: h.update(coding="adaptive"), None),  # unchanged: loads
    (lambda h: h["adaptive"].update(gt=3), "parameters"),
    (lambda h: h["adaptive"].update(zero=10**6), "zero bin"),
    (lambda h: h.pop("adaptive"), "parameters"),
    (lambda h: h.update(n_bits=h["n_bits"] - 8), "bitstream"),
])
def test_inconsistent_headers_are_refused(digits_cnn, tmp_path, edit, message):
    path = _saved(digits_cnn, tmp_path)
    rewrite(path, edit_header=edit)
    if message is None:
        wsbench.load_state_dict(path)
        return
    with pytest.raises(FormatError, match=message) as err:
        wsbench.load_state_dict(path)
    assert "\n" not in str(err.value)


def test_corrupt_truncated_and_oversized_streams_are_one_format_error(digits_cnn, tmp_path):
    path = _saved(digits_cnn, tmp_path)
    good = path.read_bytes()
    raw = bytearray(good)
    raw[-20] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="checksum"):
        wsbench.load_state_dict(path)
    path.write_bytes(good[:len(good) // 2])
    with pytest.raises(FormatError):
        wsbench.load_state_dict(path)

    def garbage(t):  # a crafted stream (checksum made to match) that no encoder wrote
        t["bitstream"] = torch.from_numpy(np.random.default_rng(0).integers(0, 256, t["bitstream"].numel(),
                                                                            dtype=np.uint8))

    path.write_bytes(good)
    rewrite(path, edit_tensors=garbage)
    with pytest.raises(FormatError, match="invalid|outside|prefix") as err:
        wsbench.load_state_dict(path)
    assert "\n" not in str(err.value)


def test_a_tiny_stream_claiming_many_indices_is_refused_before_decoding(digits_cnn, tmp_path):
    path = _saved(digits_cnn, tmp_path)
    huge = adaptive.max_indices(0) * 10**6

    def claim(h):
        h["shared"] = [["w", [huge], "float32"]]
        h["n_weights"], h["n_bits"] = huge, 32

    rewrite(path, edit_header=claim, edit_tensors=lambda t: t.update(bitstream=torch.zeros(4, dtype=torch.uint8)))
    with pytest.raises(FormatError, match="cannot hold"):
        wsbench.load_state_dict(path)


def test_an_adaptive_file_labelled_an_older_version_is_refused(digits_cnn, tmp_path):
    from wsb_files import build, parts

    path = _saved(digits_cnn, tmp_path)
    meta, header, tensors = parts(path.read_bytes())
    path.write_bytes(build({**meta, "version": "3"}, header, tensors))
    with pytest.raises(FormatError, match="needs format version 4"):
        wsbench.load_state_dict(path)
