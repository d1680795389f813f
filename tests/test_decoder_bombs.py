"""The decoder bombs of issue 29, one test each, every one failing without its fix: a header
parsed before its checksum, a small file declaring 100M weights (adaptive) or 33M (native NNC),
an NNC payload declaring more than its header, NaN or inf loaded without a word, a header naming
a space that is not a codec. Timings are the benchmark's (benchmarks/perf/decode_bombs.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from safetensors.torch import save
from wsb_files import build, parts

import wsbench
from wsbench.codec import adaptive, adaptive_decoder, fileformat
from wsbench.errors import FormatError


def _model() -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.LayerNorm(3))


def _nncodec() -> bool:
    from wsbench_plugins import nncodec_adapter

    return nncodec_adapter.available()


def _same(state: dict, expected: dict) -> bool:
    return state.keys() == expected.keys() and all(
        state[k].dtype == v.dtype and state[k].shape == v.shape and torch.equal(state[k], v)
        for k, v in expected.items())


def _adaptive_parts() -> tuple[dict, dict, dict]:
    return parts(wsbench.compress_model(_model(), 6, coding="adaptive").to_bytes())


def test_a_corrupted_file_is_refused_before_its_header_is_expanded(tmp_path):
    meta, header, tensors = _adaptive_parts()
    raw = save(tensors, metadata={**meta, "header": "[" * 50 + "not json"})  # the old metadata checksum
    with pytest.raises(FormatError, match="checksum mismatch"):
        _raise(tmp_path, raw)


def _raise(tmp_path, raw: bytes):
    (tmp_path / "m.wsb").write_bytes(raw)
    return wsbench.load_state_dict(tmp_path / "m.wsb")


def test_a_header_expanding_beyond_what_its_file_may_hold_is_refused(tmp_path):
    """A consistent file (checksums recomputed) with 4 MiB of padding in its compressed header:
    within the 64 MiB any header may take, beyond the 1 MiB + 4 bytes a byte of this file."""
    cm = wsbench.compress_model(_model(), 6)
    meta, header, tensors = parts(cm.to_bytes())
    header["extra"] = {"pad": " " * (4 << 20)}
    meta = {k: v for k, v in meta.items() if k != "header"} | {"version": "5", "header_z": ""}
    raw = build(meta, header, tensors)
    assert len(raw) < 100_000
    with pytest.raises(FormatError, match="expands beyond"):
        _raise(tmp_path, raw)


def test_a_small_adaptive_file_declaring_100M_weights_is_refused(tmp_path):
    meta, header, tensors = _adaptive_parts()
    header.update(n_weights=10**8, shared=[["0.weight", [10_000, 10_000], "float32"]], rest=[],
                  n_bits=8 * 280_000)
    stream = np.random.default_rng(0).integers(0, 256, 280_000, dtype=np.uint8)
    tensors = {"codebook": tensors["codebook"], "bitstream": torch.from_numpy(stream)}
    with pytest.raises(FormatError, match="declares 100,000,000 values"):
        _raise(tmp_path, build(meta, header, tensors))


def test_an_adaptive_stream_too_short_for_its_indices_is_refused_by_the_decoder_itself():
    with pytest.raises(ValueError, match="cannot hold"):
        adaptive.decode(bytes(4), [adaptive.max_indices(32) + 1], 3, 1)


def test_an_adaptive_stream_yielding_more_decisions_than_allowed_is_refused():
    code = adaptive.encode(np.full(5000, 2), [5000], np.arange(3))
    coder = adaptive_decoder.Decoder(code.data, max_decisions=1000)
    with pytest.raises(ValueError, match="more binary decisions"):
        coder.tensor(np.empty(5000, dtype=np.int64), 0, 5000, -2, 0, 3)
        coder.finish()


def test_an_adaptive_stream_with_a_word_more_is_refused():
    idx = np.tile([1, 1, 2, 1, 0], 400)
    data = adaptive.encode(idx, [idx.size], np.arange(3)).data
    with pytest.raises(ValueError, match="holds more than its indices"):
        adaptive.decode(data + data[-4:], [idx.size], 3, 1)


def test_a_tiny_native_file_declaring_33M_weights_is_refused_before_decoding(tmp_path):
    header = {"coding": "native", "n_weights": 1024 * 32768, "n_bits": 8 * 44, "k": 1, "d": 1,
              "quantizer": "none", "include": "conv-linear", "rest": [], "extra": {},
              "shared": [["w", [1024, 32768], "float32"]], "codec": "nncodec",
              "native": {"qp": -38, "use_dq": True}, "native_rest": []}
    raw = fileformat.write_bytes(header, {"bitstream": torch.zeros(44, dtype=torch.uint8)}, version=5)
    assert len(raw) < 1000
    with pytest.raises(FormatError, match="declares 33,554,432 values"):
        _raise(tmp_path, raw)


@pytest.mark.skipif(not _nncodec(), reason="nncodec is not installed")
def test_an_nnc_payload_declaring_more_than_its_header_is_refused_before_decoding(tmp_path, monkeypatch):
    from nncodec import nnc
    from wsbench_plugins import nncodec_adapter

    payload = nncodec_adapter.encode({"w": np.zeros((256, 4096), np.float32)}, -38, weights=["w"])
    header = {"coding": "native", "n_weights": 4096, "n_bits": 8 * len(payload), "k": 1, "d": 1,
              "quantizer": "none", "include": "conv-linear", "rest": [], "extra": {},
              "shared": [["w", [64, 64], "float32"]], "codec": "nncodec",
              "native": {"qp": -38, "use_dq": True}, "native_rest": []}
    bitstream = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    raw = fileformat.write_bytes(header, {"bitstream": bitstream}, version=5)
    monkeypatch.setattr(nnc, "decompress", lambda *a, **k: pytest.fail("decoded before the check"))
    with pytest.raises(FormatError, match="declares 1,048,576 values, the file's header 4,096"):
        _raise(tmp_path, raw)


def test_nan_in_the_codebook_is_refused(tmp_path):
    meta, header, tensors = parts(wsbench.compress_model(_model(), 6).to_bytes())
    tensors["codebook"] = torch.full_like(tensors["codebook"], float("nan"))
    with pytest.raises(FormatError, match="NaN or inf"):
        _raise(tmp_path, build(meta, header, tensors))


def test_inf_in_a_rest_tensor_is_refused_and_a_model_that_has_it_round_trips(tmp_path):
    model = _model()
    meta, header, tensors = parts(wsbench.compress_model(model, 6).to_bytes())
    tensors["rest.0.bias"][1] = float("inf")
    with pytest.raises(FormatError, match="'0.bias' holds NaN or inf"):
        _raise(tmp_path, build(meta, header, tensors))
    with torch.no_grad():
        model[0].bias[1] = float("-inf")  # a model that really has it: recorded, and loads
    cm = wsbench.compress_model(model, 6)
    assert parts(cm.to_bytes())[1]["nonfinite"] == ["0.bias"]
    assert _same(wsbench.load_state_dict(cm.save(tmp_path / "inf.wsb")), cm.state_dict())
    assert "nonfinite" not in parts(wsbench.compress_model(_model(), 6).to_bytes())[1]


def test_a_header_naming_a_space_that_is_not_a_codec_is_one_format_error(tmp_path, capsys):
    from wsbench.cli import main

    header = {"coding": "native", "n_weights": 4, "n_bits": 8, "k": 1, "d": 1, "quantizer": "none",
              "include": "conv-linear", "rest": [], "extra": {}, "shared": [["w", [4], "float32"]],
              "codec": "k", "native": {}, "native_rest": []}
    (tmp_path / "m.wsb").write_bytes(fileformat.write_bytes(
        header, {"bitstream": torch.zeros(1, dtype=torch.uint8)}, version=5))
    with pytest.raises(FormatError, match="space 'k', which is not a codec"):
        wsbench.load_state_dict(tmp_path / "m.wsb")
    assert main(["decompress", str(tmp_path / "m.wsb"), "-o", str(tmp_path / "o.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a codec" in err


def test_a_file_over_the_values_cap_loads_once_the_cap_is_raised(tmp_path, monkeypatch):
    """The cap is a decompression-bomb guard: a user who trusts a file can raise it. (Its
    4M-value allowance lowered here, so that a small file shows it.)"""
    from wsbench.codec import fileformat_checks

    monkeypatch.setattr(fileformat_checks, "VALUES_BASE", 1000)
    idx = np.full(100_000, 1)
    code = adaptive.encode(idx, [idx.size], np.arange(3))
    header = {"coding": "adaptive", "n_weights": idx.size, "n_bits": code.total_bits, "k": 3,
              "d": 3, "quantizer": "none", "include": "conv-linear", "rest": [], "extra": {},
              "shared": [["w", [idx.size], "float32"]], "adaptive": {"zero": code.zero, **adaptive.params()}}
    tensors = {"codebook": torch.tensor([-1.0, 0.0, 1.0]),
               "bitstream": torch.frombuffer(bytearray(code.data), dtype=torch.uint8)}
    (tmp_path / "m.wsb").write_bytes(fileformat.write_bytes(header, tensors, version=4))
    with pytest.raises(FormatError, match="WSBENCH_MAX_VALUES_PER_BYTE"):
        wsbench.load_state_dict(tmp_path / "m.wsb")
    monkeypatch.setenv("WSBENCH_MAX_VALUES_PER_BYTE", "1000")
    assert torch.equal(wsbench.load_state_dict(tmp_path / "m.wsb")["w"], torch.zeros(idx.size))


def test_the_writer_never_writes_a_file_its_reader_would_refuse(tmp_path, monkeypatch):
    """A nearly constant model codes to a few bytes; where that is over the reader's cap, saving
    is refused (nothing written) instead of leaving a file that no reader loads."""
    from wsbench.codec import fileformat_checks

    monkeypatch.setattr(fileformat_checks, "VALUES_BASE", 1000)
    model = torch.nn.Linear(400, 250, bias=False)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[0, 0] = 1.0
    cm = wsbench.compress_model(model, k=4, coding="adaptive")
    with pytest.raises(FormatError, match=r"not writing .*m\.wsb: .*WSBENCH_MAX_VALUES_PER_BYTE"):
        cm.save(tmp_path / "m.wsb")
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("WSBENCH_MAX_VALUES_PER_BYTE", "100000")
    path = cm.save(tmp_path / "m.wsb")
    assert torch.equal(wsbench.load_state_dict(path)["weight"], cm.state_dict()["weight"])
