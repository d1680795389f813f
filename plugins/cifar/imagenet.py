"""ImageNet validation-set loading and the paper's split (10 val + 40 test images per class).

The official val set is an ImageFolder tree (<root>/<wnid>/<image>). Decoding 50,000 images at
224x224 would need ~7.5 GB, so images are listed eagerly and decoded on demand in batches.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from wsbench.errors import ConfigError, reraised

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_EXTS = (".jpeg", ".jpg", ".png", ".bmp", ".webp")


def load_imagenet_folder(root: str | Path, size: int = 224) -> dict:
    """List an ImageFolder-style val set: paths, y (int64), classes, size (decode with decode_images)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"ImageNet folder {root} does not exist")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ConfigError(f"{root}: no class folders (expected <root>/<class>/<image>)")
    paths: list[Path] = []
    labels: list[int] = []
    for i, c in enumerate(classes):
        for f in sorted((root / c).iterdir()):
            if f.suffix.lower() in _EXTS:
                paths.append(f)
                labels.append(i)
    if not paths:
        raise ConfigError(f"{root}: no images found in the class folders")
    return {"paths": paths, "y": np.array(labels, dtype=np.int64), "classes": classes, "size": size}


def unreadable_image(where: object) -> AbstractContextManager[None]:
    """What PIL raises for a corrupt, truncated or decompression-bomb image, as a ConfigError."""
    from PIL import Image

    return reraised(ConfigError, f"{where}: not a readable image", OSError, ValueError, SyntaxError,
                    Image.DecompressionBombError)


def decode_images(paths: list[Path], size: int = 224) -> np.ndarray:
    """Decode with the standard eval transform (resize shorter side to size/0.875, centre crop)."""
    from PIL import Image

    resize = int(round(size / 0.875))
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for k, p in enumerate(paths):
        with unreadable_image(p), Image.open(p) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = resize / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                           Image.BILINEAR)
            left, top = (im.size[0] - size) // 2, (im.size[1] - size) // 2
            out[k] = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)
    return out


def imagenet_split(
    labels: np.ndarray, val_per_class: int = 10, test_per_class: int = 40, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split of the official val set into validation and test indices (paper)."""
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val_idx, test_idx = [], []
    need = val_per_class + test_per_class
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < need:
            raise ConfigError(f"class {c} has {len(idx)} images; the split needs {need}")
        val_idx.append(idx[:val_per_class])
        test_idx.append(idx[val_per_class:need])
    return np.sort(np.concatenate(val_idx)), np.sort(np.concatenate(test_idx))
