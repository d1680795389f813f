"""Compressed files load back bit for bit into any architecture, and refuse corruption."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

import wsbench
from wsbench.codec.fileformat import VERSION
from wsbench.errors import FormatError, ModelError


class TinySequenceModel(nn.Module):
    """Neither a CNN nor an MLP: embedding, GRU, attention, layer norm, tied head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.gru = nn.GRU(16, 24, batch_first=True)
        self.attn = nn.MultiheadAttention(24, 4, batch_first=True)
        self.norm = nn.LayerNorm(24)
        self.head = nn.Linear(24, 5)

    def forward(self, tokens):
        h, _ = self.gru(self.embed(tokens))
        a, _ = self.attn(h, h, h)
        return self.head(self.norm(h + a).mean(1))


def _quantized_weights(cm):
    return cm.state_dict()


@pytest.mark.parametrize("coding", ["huffman", "huffman-layer", "adaptive", "fixed"])
def test_digits_model_round_trip(digits_cnn, tmp_path, coding):
    model = digits_cnn.model
    cm = wsbench.compress_model(model, 37, coding=coding)
    path = cm.save(tmp_path / "m.wsb")
    state = wsbench.load_state_dict(path)
    expected = cm.state_dict()
    assert state.keys() == model.state_dict().keys()
    for name, t in expected.items():
        assert torch.equal(state[name], t), name  # bit for bit
    fresh = type(model)(*model.children())  # same architecture
    fresh.load_state_dict(state)
    # shared weights take at most d distinct values; biases are untouched
    assert len(torch.unique(torch.cat([state[n].flatten() for n, _, _ in cm.shared]))) <= cm.quantization.d
    assert torch.equal(state["0.bias"], model.state_dict()["0.bias"])
    assert cm.file_size == path.stat().st_size
    assert cm.cr_file == pytest.approx(cm.original_bytes / path.stat().st_size)


def test_structure_agnostic_sequence_model(tmp_path):
    torch.manual_seed(0)
    model = TinySequenceModel().eval()
    tokens = torch.randint(0, 50, (8, 12))
    cm = wsbench.compress_model(model, 64, include="all")
    path = cm.save(tmp_path / "seq.wsb")
    restored = TinySequenceModel()
    restored.load_state_dict(wsbench.load_state_dict(path))
    expected = TinySequenceModel()
    expected.load_state_dict(cm.state_dict())
    with torch.no_grad():
        assert torch.equal(restored.eval()(tokens), expected.eval()(tokens))
    # every float parameter was shared: GRU, attention and norm weights too
    assert {"gru.weight_ih_l0", "attn.in_proj_weight", "norm.weight"} <= {n for n, _, _ in cm.shared}
    # the default selection pools only Linear weights here (attn.out_proj and head)
    names = {n for n, _, _ in wsbench.compress_model(model, 16).shared}
    assert names == {"attn.out_proj.weight", "head.weight"}


def _corrupt(path, offset_from_end=10):
    raw = bytearray(path.read_bytes())
    raw[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_corrupted_truncated_and_foreign_files(digits_cnn, tmp_path):
    path = wsbench.compress_model(digits_cnn.model, 16).save(tmp_path / "m.wsb")
    good = path.read_bytes()
    _corrupt(path)
    with pytest.raises(FormatError, match="checksum"):
        wsbench.load_state_dict(path)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(FormatError):
        wsbench.load_state_dict(path)
    path.write_bytes(b"not a model at all")
    with pytest.raises(FormatError):
        wsbench.load_state_dict(path)
    with pytest.raises(FormatError, match="no such file"):
        wsbench.load_state_dict(tmp_path / "missing.wsb")


def test_newer_version_is_refused(digits_cnn, tmp_path):
    from safetensors.torch import load, save

    raw = wsbench.compress_model(digits_cnn.model, 16).to_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    newer = str(VERSION + 1)
    (tmp_path / "new.wsb").write_bytes(save(load(raw), metadata={**meta, "version": newer}))
    with pytest.raises(FormatError, match=f"version {newer}"):
        wsbench.load_state_dict(tmp_path / "new.wsb")


def test_nan_and_no_shareable_weights_are_refused():
    model = nn.Sequential(nn.Linear(4, 3))
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(ModelError, match="NaN"):
        wsbench.compress_model(model, 8)
    with pytest.raises(ModelError, match="no shareable weights"):
        wsbench.compress_model(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)), 8)


def test_huffman_beats_fixed_width_and_sizes_are_consistent(digits_cnn):
    h = wsbench.compress_model(digits_cnn.model, 200, coding="huffman")
    f = wsbench.compress_model(digits_cnn.model, 200, coding="fixed")
    d = f.quantization.d
    assert 2 ** (f.avg_bits - 1) < d <= 2 ** f.avg_bits  # fixed width is ceil(log2 d)
    assert h.avg_bits < f.avg_bits and h.cr_paper == pytest.approx(32 / h.avg_bits)
    assert h.file_size < f.file_size


def test_version_5_headers_are_compressed_and_a_bad_one_is_one_format_error(tmp_path):
    import base64
    import json
    import zlib

    import torch
    from safetensors.torch import save

    from wsbench.codec import fileformat

    header = {"coding": "native", "shared": [[f"layer{i}.weight", [64, 64, 3, 3], "float32"]
                                             for i in range(40)]}
    tensors = {"bitstream": torch.zeros(4, dtype=torch.uint8)}
    v4 = fileformat.write_bytes(header, tensors, version=4)
    v5 = fileformat.write_bytes(header, tensors, version=5)
    assert len(v5) < len(v4) / 3  # 40 similar names: the JSON compresses well
    meta, _ = fileformat._container(v5)
    assert fileformat._header(meta)[1]["shared"] == header["shared"]
    bomb = base64.b85encode(zlib.compress(b" " * (fileformat.MAX_HEADER + 1))).decode()
    for bad in ("not base85 {", base64.b85encode(b"not zlib").decode(), bomb):
        raw = save(tensors, metadata={"format": fileformat.FORMAT, "version": "5", "header_z": bad})
        (tmp_path / "bad.wsb").write_bytes(raw)
        with pytest.raises(FormatError, match="header is missing or malformed"):
            fileformat.read(tmp_path / "bad.wsb")
    assert json.loads(zlib.decompress(base64.b85decode(meta["header_z"])))["coding"] == "native"


def test_the_same_model_is_the_same_file_in_every_process():
    """safetensors orders its metadata map per process; four processes must still agree byte
    for byte (with three keys, unsorted, all four agree by chance about once in 200)."""
    import subprocess
    import sys

    code = ("import hashlib, torch; from wsbench.codec.fileformat import write_bytes; "
            "print(hashlib.sha256(write_bytes({'coding': 'fixed', 'k': 3}, "
            "{'bitstream': torch.arange(5, dtype=torch.uint8)})).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.strip() for _ in range(4)}
    assert len(digests) == 1 and len(next(iter(digests))) == 64
