"""Crafted and edited compressed files (issue 13, classes 2-4): refused with one FormatError
line before anything is decoded or allocated, never loaded as another model."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from wsb_files import build, parts

import wsbench
from wsbench.cli import main
from wsbench.errors import FormatError

DATA = Path(__file__).parent / "data"
VALUES = (-1.0, -0.5, 0.25, 1.0)


def fixture_model() -> nn.Module:
    """The model the committed version-1/2 files were written from (tests/data/README.md):
    four well-separated weight values, so 64 uniform bins keep every weight exactly."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    vals = torch.tensor(VALUES)
    with torch.no_grad():
        m[0].weight.copy_(vals[torch.arange(24) % 4].reshape(4, 6))
        m[2].weight.copy_(vals[(torch.arange(12) * 3) % 4].reshape(3, 4))
        m[0].bias.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
        m[2].bias.copy_(torch.tensor([-0.1, 0.0, 0.1]))
    return m


def decompress_error(capsys, tmp_path: Path, path: Path) -> str:
    """``wsbench decompress`` must exit 2 with one `wsbench: error:` line and write nothing."""
    out = tmp_path / "out.pt"
    code = main(["decompress", str(path), "-o", str(out)])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("wsbench: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists()
    return err


@contextmanager
def time_limit(seconds: int):
    """Fail (not hang) if the block blocks, e.g. on opening a FIFO."""
    def alarm(*_):
        raise TimeoutError(f"blocked for {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("name", ["v1-huffman.wsb", "v1-fixed.wsb", "v2-huffman-layer.wsb"])
def test_files_of_older_versions_still_load(name):
    state = wsbench.load_state_dict(DATA / name)
    expected = fixture_model().state_dict()
    assert state.keys() == expected.keys()
    for key, t in expected.items():
        assert torch.equal(state[key], t), key


@pytest.mark.parametrize("coding", ["huffman", "huffman-layer", "fixed"])
def test_every_coding_is_written_in_a_version_whose_checksum_covers_the_header(tmp_path, coding):
    meta, header, tensors = parts(wsbench.compress_model(fixture_model(), 64, coding=coding).to_bytes())
    assert int(meta["version"]) >= 3
    swapped = {**header, "shared": header["shared"][::-1]}
    (tmp_path / "m.wsb").write_bytes(build(meta, swapped, tensors, rehash=False))
    with pytest.raises(FormatError, match="checksum mismatch"):
        wsbench.load_state_dict(tmp_path / "m.wsb")


def _crafted(tmp_path: Path, source: str, version: str, edit_header=None, edit_tensors=None) -> Path:
    """A fixture file edited, with a checksum that matches (as a crafted file would have)."""
    meta, header, tensors = parts((DATA / source).read_bytes())
    if edit_header:
        edit_header(header)
    if edit_tensors:
        edit_tensors(tensors)
    path = tmp_path / "crafted.wsb"
    path.write_bytes(build({**meta, "version": version}, header, tensors))
    return path


def _claim(n: int):
    def edit(h):
        h["n_weights"], h["shared"] = n, [["0.weight", [n // 10_000, 10_000], "float32"]]
    return edit


def _claim_bits(n: int):
    def edit(h):
        _claim(n)(h)
        h["n_bits"] = n * 2
    return edit


CASES = [  # (source, header edit, tensor edit, message)
    ("v1-huffman.wsb", lambda h: h.__setitem__("d", 3), None, "does not match the codebook"),
    ("v1-fixed.wsb", lambda h: h.__setitem__("d", 3), None, "does not match the codebook"),
    ("v1-fixed.wsb", lambda h: h.__setitem__("d", 5), None, "does not match the codebook"),
    ("v1-fixed.wsb", None, lambda t: t.__setitem__("bitstream", t["bitstream"][:-2].clone()),
     "bitstream holds"),
    ("v1-fixed.wsb", lambda h: h.__setitem__("n_bits", h["n_bits"] - 8), None, "bitstream holds"),
    ("v1-huffman.wsb", _claim(200_000_000), None, "cannot hold 200000000 codes"),
    ("v1-huffman.wsb", _claim_bits(200_000_000), None, "bitstream holds"),
    ("v1-huffman.wsb", _claim(10**12), None, "cannot hold"),
    ("v1-fixed.wsb", _claim(200_000_000), None, "is not n_weights x"),
    ("v2-huffman-layer.wsb", _claim(10**12), None, "do not add up"),
    ("v1-huffman.wsb", lambda h: h.__setitem__("n_weights", True), None, "must be an integer"),
    ("v1-huffman.wsb", lambda h: h.__setitem__("n_weights", 36.0), None, "must be an integer"),
    ("v1-huffman.wsb", lambda h: h.__setitem__("d", "4"), None, "must be an integer"),
    ("v1-huffman.wsb", lambda h: h.pop("rest"), None, "lacks 'rest'"),
    ("v1-huffman.wsb", lambda h: h["rest"].pop(), None, "unexpected"),
    ("v1-huffman.wsb", lambda h: h["rest"].append("ghost"), None, "missing"),
    ("v1-huffman.wsb", lambda h: h["rest"].append("0.weight"), None, "appears twice"),
    ("v1-huffman.wsb", lambda h: h["shared"][0].__setitem__(0, "2.weight"), None, "appears twice"),
    ("v1-huffman.wsb", lambda h: h["shared"][0].__setitem__(2, "int64"), None, "not a floating dtype"),
    ("v1-huffman.wsb", lambda h: h["shared"][0].__setitem__(2, "nn"), None, "not a floating dtype"),
    ("v1-huffman.wsb", lambda h: h["shared"][0].__setitem__(1, [4, -6]), None, "malformed shape"),
    ("v1-huffman.wsb", lambda h: h["shared"][0].__setitem__(1, [6, 4.0]), None, "malformed shape"),
    ("v1-huffman.wsb", lambda h: h["shared"][0].__setitem__(1, [2, 2]), None, "hold 16 weights"),
    ("v1-huffman.wsb", lambda h: h.__setitem__("shared", {}), None, "must be a list"),
    ("v1-huffman.wsb", lambda h: h.__setitem__("coding", "fixed"), None, "unexpected"),
    ("v1-huffman.wsb", None, lambda t: t.__setitem__("huffman.symbol", torch.tensor([0, 1, 2, 4])),
     "out of the codebook"),
    ("v1-huffman.wsb", None, lambda t: t.__setitem__("huffman.symbol", torch.tensor([0, 1, 1, 2])),
     "repeated"),
    ("v1-huffman.wsb", None, lambda t: t.__setitem__("huffman.count", torch.tensor([0, 1, 1, 1])), "add up"),
    ("v1-huffman.wsb", None, lambda t: t.__setitem__("huffman.count", torch.tensor([0, 2, 2])), "Kraft"),
    ("v1-huffman.wsb", None, lambda t: t.__setitem__("huffman.count", torch.zeros(40, dtype=torch.int64)),
     "malformed"),
    ("v1-huffman.wsb", None, lambda t: t.__setitem__("codebook", t["codebook"].double()), "wrong dtypes"),
    ("v2-huffman-layer.wsb", None,
     lambda t: t.__setitem__("huffman.lengths", torch.tensor([1, 1, 1, 1], dtype=torch.uint8)),
     "do not match the codebook"),
]


@pytest.mark.parametrize("version", ["1", "3"])
@pytest.mark.parametrize("source, edit_header, edit_tensors, message", CASES)
def test_inconsistent_files_are_one_format_error_line(tmp_path, capsys, version, source, edit_header,
                                                      edit_tensors, message):
    path = _crafted(tmp_path, source, version, edit_header, edit_tensors)
    assert message in decompress_error(capsys, tmp_path, path)


def test_a_v1_header_edit_is_refused_where_the_header_disagrees_with_the_tensors(tmp_path, capsys):
    # version 1's checksum leaves the header out, so only the consistency checks can refuse it
    meta, header, tensors = parts((DATA / "v1-fixed.wsb").read_bytes())
    (tmp_path / "m.wsb").write_bytes(build(meta, {**header, "d": 3}, tensors, rehash=False))
    assert "does not match the codebook" in decompress_error(capsys, tmp_path, tmp_path / "m.wsb")


def test_fifo_directory_and_device_are_refused_without_blocking(tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo.wsb")
    (tmp_path / "dir.wsb").mkdir()
    with time_limit(20):
        for path in (tmp_path / "fifo.wsb", tmp_path / "dir.wsb", Path("/dev/zero")):
            assert "not a regular file" in decompress_error(capsys, tmp_path, path)


def test_files_over_the_size_cap_are_refused_before_reading(tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.wsb"
    path.write_bytes((DATA / "v1-huffman.wsb").read_bytes())
    monkeypatch.setenv("WSBENCH_MAX_FILE_BYTES", str(path.stat().st_size - 1))
    assert "cap" in decompress_error(capsys, tmp_path, path)
    monkeypatch.setenv("WSBENCH_MAX_FILE_BYTES", str(path.stat().st_size))
    assert torch.equal(wsbench.load_state_dict(path)["0.bias"], fixture_model().state_dict()["0.bias"])


@pytest.mark.parametrize("blob", [b"", b"\x00" * 8, (2**63).to_bytes(8, "little") + b"{}",
                                  b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"[" * 16,
                                  b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
                                  b"\x0e\x00\x00\x00\x00\x00\x00\x00\xff\xfe\xfd" + b" " * 11])
def test_foreign_and_truncated_containers_are_one_line(tmp_path, capsys, blob):
    (tmp_path / "m.wsb").write_bytes(blob)
    decompress_error(capsys, tmp_path, tmp_path / "m.wsb")


def test_deeply_nested_header_json_is_one_line(tmp_path, capsys):
    meta, header, tensors = parts((DATA / "v1-huffman.wsb").read_bytes())
    from safetensors.torch import save

    (tmp_path / "m.wsb").write_bytes(save(tensors, metadata={**meta, "header": "[" * 100_000}))
    decompress_error(capsys, tmp_path, tmp_path / "m.wsb")


def test_huffman_decoding_stops_after_n_values_and_refuses_leftover_bits():
    import numpy as np

    from wsbench.codec import huffman

    idx = np.array([0, 0, 0, 1, 2, 3, 0, 0])
    table = huffman.build_table(np.bincount(idx))
    data, n_bits = huffman.encode(idx, table)
    assert np.array_equal(huffman.decode(data + b"\x00", n_bits, idx.size, table), idx)
    with pytest.raises(ValueError, match="more bits than"):
        huffman.decode(data + b"\x00", n_bits + 3, idx.size, table)
    with pytest.raises(ValueError):  # fewer codes than claimed: stops at the end of the stream
        huffman.decode(data, n_bits, idx.size + 5, table)


@pytest.mark.parametrize("shape", [[0, 2**61, 2**61], [2**62], [1] * 65, [-1], [True, 3]])
def test_shapes_torch_cannot_hold_are_refused(shape):
    from wsbench.codec.fileformat_checks import _shared

    with pytest.raises(FormatError, match="malformed shape"):
        _shared([["w", shape, "float32"]])
    assert _shared([["w", [0, 2**40], "float32"], ["v", [2, 3], "float16"]]) == [0, 6]
