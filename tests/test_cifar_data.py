"""CIFAR/ImageNet data loading in every supported format, caching and the paper's splits."""

from __future__ import annotations

import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from wsbench_plugins.cifar.data import default_cifar_path, load_cifar, paper_split, to_float
from wsbench_plugins.cifar.imagenet import decode_images, imagenet_split, load_imagenet_folder

from wsbench.errors import ConfigError

SHARED_TAR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.tar.xz"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WSBENCH_CIFAR10", raising=False)


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


def _tv_batch(x: np.ndarray, labels: list[int], key: bytes) -> dict:
    return {b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), key: labels}


def test_torchvision_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    xs = [_images(4, i) for i in range(6)]
    for i in range(5):
        _dump(folder / f"data_batch_{i + 1}", _tv_batch(xs[i], [i, i + 1, 2, 3], b"labels"))
    _dump(folder / "test_batch", _tv_batch(xs[5], [9, 8, 7, 6], b"labels"))
    _dump(folder / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]})
    d = load_cifar(tmp_path, "cifar10")  # the parent folder works too
    assert d["train_x"].shape == (20, 32, 32, 3) and d["train_x"].dtype == np.uint8
    np.testing.assert_array_equal(d["train_x"][:4], xs[0])
    np.testing.assert_array_equal(d["test_x"], xs[5])
    assert d["train_y"].dtype == np.int64 and list(d["test_y"]) == [9, 8, 7, 6]
    assert d["classes"] == [f"c{i}" for i in range(10)]


def test_torchvision_cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    x = _images(6, 1)
    _dump(folder / "train", _tv_batch(x, [0, 99, 5, 5, 1, 2], b"fine_labels"))
    _dump(folder / "test", _tv_batch(x[:2], [3, 4], b"fine_labels"))
    _dump(folder / "meta", {b"fine_label_names": [f"f{i}".encode() for i in range(100)]})
    d = load_cifar(folder, "cifar100")
    assert d["train_x"].shape == (6, 32, 32, 3) and list(d["train_y"]) == [0, 99, 5, 5, 1, 2]
    assert len(d["classes"]) == 100 and list(d["test_y"]) == [3, 4]


def _image_tree(root: Path, classes=("cat", "dog", "ant"), n=(3, 2), ext=".png") -> None:
    from PIL import Image

    for split, count in zip(("train", "test"), n):
        for ci, c in enumerate(classes):
            (root / split / c).mkdir(parents=True)
            for k in range(count):
                arr = np.full((32, 32, 3), 40 * ci + k, dtype=np.uint8)
                Image.fromarray(arr).save(root / split / c / f"{k:04d}{ext}")


def test_image_folder_and_cache(tmp_path):
    root = tmp_path / "cifar-png"
    _image_tree(root)
    d = load_cifar(root)
    assert d["classes"] == ["ant", "cat", "dog"]
    assert d["train_x"].shape == (9, 32, 32, 3) and d["test_x"].shape == (6, 32, 32, 3)
    assert list(d["train_y"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert d["train_x"][0, 0, 0, 0] == 80  # "ant" was written as class index 2 -> value 80
    cached = list((tmp_path / "cache" / "datasets").glob("*.npz"))
    assert len(cached) == 1
    again = load_cifar(root)  # from the cache
    np.testing.assert_array_equal(again["train_x"], d["train_x"])
    assert again["classes"] == d["classes"]
    # a changed source gets a new cache entry
    (root / "train" / "ant" / "0000.png").unlink()
    assert load_cifar(root)["train_x"].shape == (8, 32, 32, 3)
    assert len(list((tmp_path / "cache" / "datasets").glob("*.npz"))) == 2


def test_tar_xz_jpeg(tmp_path):
    root = tmp_path / "src" / "cifar-jpg"
    _image_tree(root, ext=".jpg")
    archive = tmp_path / "cifar-jpg.tar.xz"
    with tarfile.open(archive, "w:xz") as tf:
        tf.add(root, arcname="cifar-jpg")
    d = load_cifar(archive)
    assert d["train_x"].shape == (9, 32, 32, 3) and d["test_x"].shape == (6, 32, 32, 3)
    assert list(d["test_y"]) == [0, 0, 1, 1, 2, 2]
    assert abs(int(d["test_x"][2, 5, 5, 0]) - 0) <= 3  # "cat" k=0, JPEG is lossy


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError):
        load_cifar(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError):
        load_cifar(tmp_path / "empty")
    with pytest.raises(ConfigError):
        load_cifar(tmp_path, "mnist")
    monkeypatch.setenv("WSBENCH_CIFAR10", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="WSBENCH_CIFAR10"):
        default_cifar_path()


def test_default_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("WSBENCH_CIFAR10", str(tmp_path))
    assert default_cifar_path() == tmp_path


def test_paper_split():
    y = np.repeat(np.arange(10), 50)
    tr, va = paper_split(y, frac=0.1, seed=0)
    assert len(va) == 50 and len(tr) == 450
    assert not set(tr) & set(va) and len(set(tr) | set(va)) == 500
    assert np.all(np.bincount(y[va], minlength=10) == 5)
    tr2, va2 = paper_split(y, frac=0.1, seed=0)
    np.testing.assert_array_equal(va, va2)
    np.testing.assert_array_equal(tr, tr2)
    assert not np.array_equal(va, paper_split(y, frac=0.1, seed=1)[1])


def test_to_float():
    x = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    t = to_float(x)
    assert tuple(t.shape) == (2, 3, 32, 32) and str(t.dtype) == "torch.float32"
    assert float(t[0, 0, 0, 0]) == pytest.approx(-0.4914 / 0.2470, rel=1e-4)


def test_imagenet_folder_and_split(tmp_path):
    from PIL import Image

    for c in ("n01", "n02", "n03"):
        (tmp_path / c).mkdir()
        for k in range(6):
            Image.fromarray(_images(1, k)[0]).resize((40, 30)).save(tmp_path / c / f"{k}.JPEG")
    d = load_imagenet_folder(tmp_path, size=16)
    assert d["classes"] == ["n01", "n02", "n03"] and len(d["paths"]) == 18
    assert decode_images(d["paths"][:2], size=16).shape == (2, 16, 16, 3)
    va, te = imagenet_split(d["y"], val_per_class=2, test_per_class=3, seed=0)
    assert len(va) == 6 and len(te) == 9 and not set(va) & set(te)
    assert np.all(np.bincount(d["y"][te]) == 3)
    np.testing.assert_array_equal(va, imagenet_split(d["y"], 2, 3, seed=0)[0])
    with pytest.raises(ConfigError):
        imagenet_split(d["y"], val_per_class=5, test_per_class=5)


def test_shared_tar_listing():
    if not SHARED_TAR.exists():
        pytest.skip(f"shared CIFAR-10 (JPEG) archive absent: {SHARED_TAR}")
    with tarfile.open(SHARED_TAR, "r:xz") as tf:
        first = next(m for m in tf if m.isfile())
    assert first.name.startswith("cifar10-jpeg/") and os.path.splitext(first.name)[1] == ".jpg"
