"""CIFAR-10/100 loading from the torchvision binary format, an ImageFolder tree or a tar of one.

Decoding 60,000 JPEGs takes a while, so every source is decoded once into uint8 arrays and
cached as an .npz keyed by the source path, size and mtime; later loads take well under a second.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Annotated

import numpy as np
from wsbench_plugins.cifar.imagenet import imagenet_split, load_imagenet_folder, unreadable_image  # noqa: F401 (re-export)
from wsbench_plugins.cifar.safe_pickle import load_batch

from wsbench.errors import ConfigError
from wsbench.files.cache import atomic_write_bytes, cache_dir, content_key
from wsbench.files.locate import data_dirs
from wsbench.options import Range

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_TV_DIRS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_ARCHIVES = {"cifar10": "cifar10-jpeg.tar.xz", "cifar100": "cifar100-jpeg.tar.xz"}
_CACHE_VERSION = 1
# a task's val_limit, test_limit: at most this many examples of a split (more means all of them)
Limit = Annotated[int | None, Range(1, 10_000_000)]


def default_cifar_path(name: str = "cifar10") -> Path:
    """Where to find CIFAR by default: $WSBENCH_CIFAR10 / $WSBENCH_CIFAR100, then common places."""
    _check_name(name)
    env = f"WSBENCH_{name.upper()}"
    if os.environ.get(env):
        path = Path(os.environ[env]).expanduser()
        if not path.exists():
            raise ConfigError(f"{env}={path} does not exist")
        return path
    candidates: list[Path] = []
    for base in data_dirs():
        candidates += [base / _ARCHIVES[name], base / _TV_DIRS[name]]
    candidates += [Path.cwd() / "data" / _TV_DIRS[name], Path.home() / "data" / _TV_DIRS[name]]
    candidates.append(cache_dir("downloads") / _TV_DIRS[name])
    for cand in candidates:
        if cand.exists():
            return cand
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"{name} not found: set ${env} or pass a path (looked in ${env}, {looked})")


def _check_name(name: str) -> None:
    if name not in _TV_DIRS:
        raise ConfigError(f"unknown dataset {name!r}; valid: {', '.join(_TV_DIRS)}")


def _fingerprint(path: Path) -> dict:
    """Cheap identity of a source: size and mtime (for folders, summed over the files inside)."""
    st = path.stat()
    if path.is_file():
        return {"size": st.st_size, "mtime": st.st_mtime_ns}
    count, size, mtime = 0, 0, st.st_mtime_ns
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            s = os.stat(os.path.join(dirpath, f))
            count, size, mtime = count + 1, size + s.st_size, max(mtime, s.st_mtime_ns)
    return {"files": count, "size": size, "mtime": mtime}


def load_cifar(
    root_or_archive: str | Path | None = None, name: str = "cifar10", *, download: bool = False
) -> dict:
    """Load CIFAR as uint8 NHWC arrays: train_x, train_y, test_x, test_y, classes (cached)."""
    _check_name(name)
    if root_or_archive is None:
        try:
            root_or_archive = default_cifar_path(name)
        except ConfigError:
            if not download:
                raise
            root_or_archive = _download(name)
    src = Path(root_or_archive).expanduser().resolve()
    if not src.exists():
        raise ConfigError(f"{name} source {src} does not exist")
    key = content_key(path=str(src), name=name, v=_CACHE_VERSION, **_fingerprint(src))
    cached = cache_dir("datasets") / f"{name}-{key}.npz"
    if cached.exists():
        with np.load(cached, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        out["classes"] = [str(c) for c in out["classes"]]
        return out
    out = _decode(src, name)
    buf = io.BytesIO()
    np.savez(buf, **{**out, "classes": np.array(out["classes"])})
    atomic_write_bytes(cached, buf.getvalue())
    return out


def _download(name: str) -> Path:
    """Fetch the canonical binary CIFAR with torchvision (only when the user asked for it)."""
    import torchvision

    root = cache_dir("downloads")
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    cls(root=str(root), train=True, download=True)
    return root / _TV_DIRS[name]


def _decode(src: Path, name: str) -> dict:
    if src.is_file():
        if tarfile.is_tarfile(src):
            return _read_image_tar(src)
        raise ConfigError(f"{src} is neither a folder nor a tar archive")
    for cand in (src, src / _TV_DIRS[name]):
        if (cand / "batches.meta").exists() or (cand / "meta").exists():
            return _read_torchvision(cand, name)
    for cand in (src, *[p for p in sorted(src.iterdir()) if p.is_dir()]):
        if (cand / "train").is_dir() and (cand / "test").is_dir():
            return _read_image_folder(cand)
    raise ConfigError(f"{src}: no {_TV_DIRS[name]} batches nor train/ and test/ class folders")


def _read_torchvision(folder: Path, name: str) -> dict:
    """Read the official pickled batches with a restricted unpickler (no code runs)."""
    if name == "cifar10":
        train_files = [folder / f"data_batch_{i}" for i in range(1, 6)]
        test_files, meta_file = [folder / "test_batch"], folder / "batches.meta"
        label_key, names_key = b"labels", b"label_names"
    else:
        train_files, test_files, meta_file = [folder / "train"], [folder / "test"], folder / "meta"
        label_key, names_key = b"fine_labels", b"fine_label_names"
    missing = [str(p) for p in (*train_files, *test_files, meta_file) if not p.exists()]
    if missing:
        raise ConfigError(f"{folder}: missing CIFAR batch files {', '.join(missing)}")

    def read(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
        parts = [_batch_arrays(load_batch(f), label_key, f) for f in files]
        x = np.concatenate([p[0] for p in parts])
        return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), np.concatenate([p[1] for p in parts])

    train_x, train_y = read(train_files)
    test_x, test_y = read(test_files)
    names = load_batch(meta_file).get(names_key)
    if not isinstance(names, list) or not all(isinstance(c, bytes) for c in names):
        raise ConfigError(f"{meta_file}: no list of class names under {names_key!r}")
    classes = [c.decode("utf-8", "replace") for c in names]
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y,
            "classes": classes}


def _batch_arrays(batch: dict, label_key: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A batch's uint8 images (N x 3072) and int labels, or a ConfigError naming the file."""
    x, y = batch.get(b"data"), batch.get(label_key)
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        raise ConfigError(f"{path}: {b'data'!r} is not a uint8 array of 3072 values per image")
    if not isinstance(y, list) or len(y) != len(x) or not all(type(v) is int and v >= 0 for v in y):
        raise ConfigError(f"{path}: {label_key!r} is not one non-negative int label per image")
    return x, np.asarray(y, dtype=np.int64)


def _decode_image(data: bytes | Path, where: object = None) -> np.ndarray:
    """One RGB image; a corrupt, truncated or oversized one is a ConfigError naming it."""
    from PIL import Image

    with unreadable_image(where if where is not None else data):
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _assemble(items: dict[str, list[tuple[str, str, np.ndarray]]], where: object) -> dict:
    """Turn (class, file name, image) lists per split into arrays with sorted class indices."""
    if not items.get("train") or not items.get("test"):
        raise ConfigError(f"{where}: needs images under both train/<class>/ and test/<class>/")
    classes = sorted({c for c, _, _ in items["train"]})
    index = {c: i for i, c in enumerate(classes)}
    out: dict = {"classes": classes}
    for split in ("train", "test"):
        rows = sorted(items[split], key=lambda r: (r[0], r[1]))
        unknown = {c for c, _, _ in rows if c not in index}
        if unknown:
            raise ConfigError(f"{where}: {split} classes {sorted(unknown)} not in train")
        out[f"{split}_x"] = np.stack([r[2] for r in rows])
        out[f"{split}_y"] = np.array([index[r[0]] for r in rows], dtype=np.int64)
    return out


def _read_image_folder(root: Path) -> dict:
    """Read <root>/{train,test}/<class>/<image>."""
    items: dict[str, list] = {"train": [], "test": []}
    for split in items:
        for cls_dir in sorted(p for p in (root / split).iterdir() if p.is_dir()):
            for f in sorted(cls_dir.iterdir()):
                if f.suffix.lower() in IMAGE_EXTS:
                    items[split].append((cls_dir.name, f.name, _decode_image(f)))
    return _assemble(items, root)


def _read_image_tar(archive: Path) -> dict:
    """Read an ImageFolder tree straight out of a .tar/.tar.gz/.tar.xz (streamed, no extraction)."""
    items: dict[str, list] = {"train": [], "test": []}
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:
            if not member.isfile() or not member.name.lower().endswith(IMAGE_EXTS):
                continue
            parts = Path(member.name).parts
            if len(parts) < 3 or parts[-3] not in items:
                continue
            fh = tf.extractfile(member)
            if fh is not None:
                items[parts[-3]].append((parts[-2], parts[-1],
                                         _decode_image(fh.read(), f"{archive}:{member.name}")))
    return _assemble(items, archive)


def paper_split(train_y: np.ndarray, frac: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded train/validation split: `frac` of each class goes to validation (paper)."""
    y = np.asarray(train_y)
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(round(len(idx) * frac))
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))


def limited(x, y, limit: int | None, seed: int):
    """A seeded, class-balanced subset of at most ``limit`` examples (None: everything)."""
    if limit is None or limit >= len(y):
        return x, y
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    # interleave classes so every prefix is balanced
    by_class = [order[np.asarray(y)[order] == c] for c in np.unique(y)]
    inter = [i for group in zip(*by_class) for i in group][:limit]
    idx = np.sort(np.asarray(inter))
    return x[idx], y[idx]


def to_float(x_uint8_nhwc, mean: tuple = CIFAR_MEAN, std: tuple = CIFAR_STD):
    """uint8 NHWC images (numpy or torch) -> normalised float32 NCHW tensor (channels_last strides),
    on the device the images are on."""
    import torch

    x = torch.as_tensor(x_uint8_nhwc)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)
