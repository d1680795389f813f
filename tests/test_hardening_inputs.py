"""Hostile inputs other than compressed files (issue 13, classes 1 and 4): a crafted CIFAR batch
runs no code, and a malformed .sha256, TOML or experiment.json is one `wsbench: error:` line."""

from __future__ import annotations

import json
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from wsbench_plugins.cifar.data import load_cifar

from wsbench.cli import main
from wsbench.errors import ConfigError, ModelError
from wsbench.tasks.checkpoint import read_checkpoint


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "cache"))


def one_error_line(capsys, *argv: str) -> str:
    """Run the CLI; it must exit 2 with exactly one `wsbench: error:` line and no traceback."""
    code = main(list(argv))
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("wsbench: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and "rerun with --debug" not in err, err
    return err


class _Payload:
    """A pickle that, when loaded by ``pickle.load``, calls ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _cifar10_folder(root: Path, batch1: object) -> Path:
    """A torchvision CIFAR-10 folder whose first batch is ``batch1``; the rest are valid."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    good = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch1 if i == 1 else good))
    (folder / "test_batch").write_bytes(pickle.dumps(good))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a", b"b"]}))
    return folder


def _payloads(marker: Path) -> list[object]:
    return [
        _Payload(os.system, (f"touch {marker}",)),
        _Payload(open, (str(marker), "w")),
        {b"data": _Payload(os.system, (f"touch {marker}",)), b"labels": [0]},
        _Payload(np.ndarray, ((10**12,), np.uint8)),  # numpy's own class, called: a memory bomb
    ]


@pytest.mark.parametrize("which", range(4))
def test_crafted_cifar_batch_runs_no_code(tmp_path, which):
    marker = tmp_path / "marker"
    folder = _cifar10_folder(tmp_path, _payloads(marker)[which])
    with pytest.raises(ConfigError, match="not a CIFAR batch file"):
        load_cifar(folder)
    assert not marker.exists()


def test_crafted_cifar_batch_through_the_cli(tmp_path, capsys):
    marker = tmp_path / "marker"
    folder = _cifar10_folder(tmp_path, _payloads(marker)[0])
    err = one_error_line(capsys, "train", "--task", "cifar10-resnet20", "--data", str(folder),
                         "--epochs", "1", "--out", str(tmp_path / "out"), "--no-progress")
    assert "os.system" in err or "posix.system" in err
    assert not marker.exists()


def _py2_batch(x: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled as Python 2's cPickle wrote the official files (protocol 2, str opcodes,
    ``numpy.core.multiarray._reconstruct``), built opcode by opcode."""
    def s(text: bytes) -> bytes:
        return b"U" + bytes([len(text)]) + text

    def i4(v: int) -> bytes:
        return b"J" + struct.pack("<i", v)

    dtype = b"cnumpy\ndtype\n" + s(b"u1") + i4(0) + i4(1) + b"\x87R" + (
        b"(" + i4(3) + s(b"|") + b"NNN" + i4(-1) + i4(-1) + i4(0) + b"tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + i4(0) + b"\x85"
             + s(b"b") + b"\x87R" + b"(" + i4(1) + i4(x.shape[0]) + i4(x.shape[1]) + b"\x86" + dtype
             + b"\x89" + b"T" + struct.pack("<I", x.nbytes) + x.tobytes() + b"tb")
    labels_op = b"](" + b"".join(i4(v) for v in labels) + b"e"
    return b"\x80\x02}(" + s(b"data") + array + s(b"labels") + labels_op + b"u."


def test_the_official_python2_format_still_loads(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    xs = [rng.integers(0, 256, (3, 3072), dtype=np.uint8) for _ in range(6)]
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(_py2_batch(xs[i - 1], [i, 0, 9]))
    (folder / "test_batch").write_bytes(_py2_batch(xs[5], [4, 5, 6]))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]},
                                                       protocol=2))
    ds = load_cifar(folder)
    expected = np.concatenate(xs[:5]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert np.array_equal(ds["train_x"], expected)
    assert ds["train_y"].tolist() == [v for i in range(1, 6) for v in (i, 0, 9)]
    assert ds["test_y"].tolist() == [4, 5, 6] and ds["classes"][3] == "c3"


def _checkpoint(tmp_path: Path, sha: bytes | None) -> Path:
    path = tmp_path / "m.pt"
    torch.save({"w": torch.ones(2)}, path)
    if sha is not None:
        path.with_suffix(".sha256").write_bytes(sha)
    return path


@pytest.mark.parametrize("sha", [b"", b"\n \n", b"\xff\xfe\x00binary", b"abc  m.pt\n", b"g" * 64 + b"\n"])
def test_malformed_sha256_is_a_model_error(tmp_path, sha):
    with pytest.raises(ModelError, match="malformed sha256"):
        read_checkpoint(_checkpoint(tmp_path, sha))


def test_sha256_that_matches_or_not(tmp_path):
    import hashlib

    path = _checkpoint(tmp_path, None)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_suffix(".sha256").write_text(f"{digest.upper()}  m.pt\n")
    assert torch.equal(read_checkpoint(path)["w"], torch.ones(2))
    path.with_suffix(".sha256").write_text(f"{'0' * 64}  m.pt\n")
    with pytest.raises(ModelError, match="does not match its sha256"):
        read_checkpoint(path)


def test_empty_sha256_through_the_cli(tmp_path, capsys):
    path = _checkpoint(tmp_path, b"")
    err = one_error_line(capsys, "train", "--task", "cifar10-resnet20", "--init", str(path),
                         "--epochs", "0", "--swa-epochs", "1", "--out", str(tmp_path / "out"))
    assert "malformed sha256" in err


@pytest.mark.parametrize("content", [b"\xff\xfe\x00\x01binary", b"name = \"x\"\n\xc3\x28",
                                     b"a = " + b"[" * 5000 + b"]" * 5000])
def test_binary_or_pathological_toml_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "exp.toml"
    path.write_bytes(content)
    err = one_error_line(capsys, "run", str(path))
    assert str(path) in err


def test_toml_that_is_a_folder_or_fifo_is_one_line(tmp_path, capsys):
    (tmp_path / "dir.toml").mkdir()
    os.mkfifo(tmp_path / "fifo.toml")
    for name in ("dir.toml", "fifo.toml"):
        assert "not a regular file" in one_error_line(capsys, "run", str(tmp_path / name))


@pytest.mark.parametrize("meta", [{}, {"name": "x"}, {"name": "x", "tasks": "nope"}])
def test_incomplete_experiment_json_is_one_line(tmp_path, capsys, meta):
    (tmp_path / "experiment.json").write_text(json.dumps(meta))
    err = one_error_line(capsys, "report", str(tmp_path), "--no-figures")
    assert "experiment.json is incomplete or malformed" in err


def _image_folder(root: Path, bad: bytes) -> Path:
    from PIL import Image

    for split in ("train", "test"):
        (root / split / "cat").mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(root / split / "cat" / "good.png")
    (root / "train" / "cat" / "bad.png").write_bytes(bad)
    return root


@pytest.mark.parametrize("bad", [b"garbage", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0" + b"\x00" * 20])
def test_corrupt_image_is_one_config_error(tmp_path, bad):
    root = _image_folder(tmp_path / "imgs", bad)
    with pytest.raises(ConfigError, match="bad.png: not a readable image"):
        load_cifar(root)
    with tarfile.open(tmp_path / "imgs.tar", "w") as tf:
        tf.add(root, arcname="imgs")
    with pytest.raises(ConfigError, match="bad.png: not a readable image"):
        load_cifar(tmp_path / "imgs.tar")
    from wsbench_plugins.cifar.imagenet import decode_images

    with pytest.raises(ConfigError, match="not a readable image"):
        decode_images([root / "train" / "cat" / "bad.png"])


def test_decompression_bomb_image_is_one_config_error(tmp_path, monkeypatch):
    from PIL import Image

    root = _image_folder(tmp_path / "imgs", b"")
    Image.new("RGB", (64, 64)).save(root / "train" / "cat" / "bad.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 64 x 64 is then over twice the limit
    with pytest.raises(ConfigError, match="DecompressionBombError"):
        load_cifar(root)


@pytest.mark.parametrize("task,words", [
    ('{ name = "cifar10-resnet20", checkpoint = "MISSING" }', "checkpoint MISSING does not exist"),
    ('{ name = "cifar10-resnet20", checkpoint = "FOLDER" }', "checkpoint FOLDER is not a file"),
    ('"cifar100-resnet18"', "has no checkpoint: train one with `wsbench train --task cifar100-resnet18`"),
])
def test_a_missing_checkpoint_is_one_line_before_any_trial(tmp_path, capsys, monkeypatch, task, words):
    """Not a failed trial per seed, listed after the others ran: one line, nothing started."""
    import wsbench.experiments.runner

    def refuse(*a, **k):
        raise AssertionError("trials started")

    monkeypatch.setattr(wsbench.experiments.runner, "run_experiment", refuse)
    # nowhere to find a trained checkpoint, whatever this machine holds
    monkeypatch.setattr("wsbench_plugins.cifar.checkpoint_candidates", lambda name: [])
    (tmp_path / "folder").mkdir()
    task = task.replace("MISSING", str(tmp_path / "missing.pt")).replace("FOLDER", str(tmp_path / "folder"))
    path = tmp_path / "e.toml"
    path.write_text(f'name = "ck"\ntasks = ["digits-cnn", {task}]\noptimizers = ["random"]\n'
                    f'budget = 3\n')
    err = one_error_line(capsys, "run", str(path), "--out", str(tmp_path / "res"))
    words = words.replace("MISSING", str(tmp_path / "missing.pt")).replace("FOLDER", str(tmp_path / "folder"))
    assert f"{path}: tasks[1] (" in err and words in err
    assert not (tmp_path / "res").exists()
