"""Spaces that are whole codecs: their own coding ("native") through the harness, records,
tables and files, shown with a small int8 codec registered in-process (no optional extra)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

import wsbench
from wsbench.cli import main
from wsbench.errors import ConfigError, FormatError


class Int8Codec:
    """Per-tensor symmetric int8: step = max|w| / (2 ** bits / 2 - 1); payload = steps + levels."""

    name = "int8-native"

    def __init__(self) -> None:
        self.xl, self.xu, self.integer = np.array([2.0]), np.array([8.0]), np.array([True])

    def bind(self, view) -> None:
        self.view = view

    def quantize(self, view, quantizer, x):
        bits = int(round(x[0]))
        top = 2 ** (bits - 1) - 1
        parts, levels, steps = view.split(view.original), [], []
        for t in parts.values():
            step = float(t.abs().max()) / top or 1.0
            steps.append(step)
            levels.append(torch.round(t.reshape(-1) / step).clamp(-top, top).to(torch.int8))
        payload = struct.pack(f"<{len(steps)}f", *steps) + torch.cat(levels).numpy().tobytes()
        flat = self.decode({"n": len(steps)}, payload, [(n, tuple(p.shape), "float32")
                                                         for n, p in zip(view.names, view.params)])
        values, inverse = torch.unique(flat, return_inverse=True)
        native = wsbench.NativeCode(self.name, payload, {"n": len(steps)})
        return wsbench.Quantization(values, inverse, int(values.numel()), native)

    def decode(self, header, payload, shared):
        n = header["n"]
        if len(payload) < 4 * n:
            raise FormatError("int8 payload too short")
        steps = struct.unpack(f"<{n}f", payload[:4 * n])
        levels = torch.frombuffer(bytearray(payload[4 * n:]), dtype=torch.int8).to(torch.float32)
        sizes = [int(np.prod(s)) for _, s, _ in shared]
        if levels.numel() != sum(sizes):
            raise FormatError("int8 payload does not match the model")
        out, offset = [], 0
        for step, size in zip(steps, sizes):
            out.append(levels[offset:offset + size] * np.float32(step))
            offset += size
        return torch.cat(out)

    def k_of(self, x) -> int:
        return self.quantize(self.view, None, x).k


class Plugin:
    @wsbench.hookimpl
    def wsbench_register_spaces(self, register) -> None:
        register("int8-native", Int8Codec, "test codec: per-tensor int8")


@pytest.fixture
def int8_space():
    plugin = Plugin()
    wsbench.register(plugin, name="int8-native-test")
    yield
    wsbench.unregister(plugin)


@pytest.mark.usefixtures("int8_space", "one_thread")
def test_a_codec_space_is_searched_on_its_own_bits_and_saved_in_its_own_coding(tmp_path, digits_cnn):
    argv = ["compress", "--space", "int8-native", "--optimizer", "exhaustive", "--budget", "7",
            "--merge", "none", "--size", "bits", "--size-coding", "native", "--coding", "native",
            "--max-drop", "0.5", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    (folder,) = tmp_path.iterdir()
    rec = json.loads((folder / "trial.json").read_text())
    n = sum(p.numel() for p in wsbench.WeightView.of(digits_cnn.model).params)
    for bits in {round(f[1], 9) for f in rec["archive"]["f"]}:  # the payload: steps + one byte a weight
        assert bits == pytest.approx(8 + 4 * 4 * 8 / n, rel=1e-9)  # 4 tensors' steps, 8 bits each
    for s in rec["front"]:
        assert s["bits_native"] == pytest.approx(8 + 128 / n) and s["cr_paper_native"] < s["cr_paper"]
    assert "+ native coding" in (folder / "table.md").read_text()
    rows = (folder / "front.csv").read_text().splitlines()[1:]
    assert len(rows) == len(rec["front"]) >= 1
    view = wsbench.WeightView.of(digits_cnn.model)
    codec = Int8Codec()
    codec.bind(view)
    for row, s in zip(rows, rec["front"]):
        path = folder / row.split(",")[-1]
        state = wsbench.load_state_dict(path)  # decoded by the space plugin the file names
        expected = codec.quantize(view, None, np.array(s["x"])).dequantize()
        assert torch.equal(torch.cat([state[k].flatten() for k in view.names]), expected)
        assert path.stat().st_size < len(codec.quantize(view, None, np.array(s["x"])).native.payload) + 4096


@pytest.mark.usefixtures("int8_space")
def test_native_coding_needs_a_codec_space_and_no_merge(tmp_path, capsys):
    assert main(["compress", "--coding", "native", "--budget", "5", "--no-progress",
                 "--out", str(tmp_path)]) == 2
    assert "native" in capsys.readouterr().err
    assert main(["compress", "--space", "int8-native", "--coding", "native", "--merge", "neighbor",
                 "--budget", "5", "--no-progress", "--out", str(tmp_path)]) == 2
    assert "merge none" in capsys.readouterr().err


def test_size_coding_native_refuses_a_space_that_is_not_a_codec(digits_cnn):
    from test_fitness_paths import KS, make

    with pytest.raises(ConfigError, match="size coding native needs a space"):
        make(digits_cnn, size="bits", size_coding="native").evaluate(KS[:1])
