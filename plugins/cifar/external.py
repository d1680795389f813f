"""Tasks on checkpoints no one here trained: Y. Idelbayev's CIFAR-10 ResNet-20/32/44/56.

The widely used weights of "Proper ResNet Implementation for CIFAR10/CIFAR100 in PyTorch"
(akamaster/pytorch_resnet_cifar10, BSD-2-Clause). They were trained on all 50,000 training
images, so validation cannot come from the training split: the official test set is split into
two stratified halves, seeded (``split_seed``, default 0): per class, a permutation of its test
images gives the first half to validation and the rest to test (500 + 500 per class on
CIFAR-10). Every external checkpoint uses this rule. Calibration images (GPTQ, bias correction)
come from the training split, as post-training quantization papers take them.

The files are looked for where ``shared/data/`` keeps them, then in the user cache
(``checkpoints/``); each is checked against the sha256 its publisher's file has and read with
``torch.load(weights_only=True)``. Their inputs are normalised with ImageNet's mean and std, as
they were trained. On CIFAR-10 (JPEG) their accuracy is about 10 points below the canonical
figure: the JPEG re-encoding is a distribution shift for them, and every figure says so.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from wsbench_plugins.cifar.data import Limit

from wsbench.errors import ConfigError, ModelError
from wsbench.options import Seed

FOLDER = "cifar-resnets-idelbayev"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CALIBRATION = 2000  # training images a calibrating method may fit on (as the other CIFAR tasks)


@dataclass(frozen=True)
class External:
    arch: str
    file: str
    sha256: str
    canonical_top1: float  # the publisher's best_prec1 on canonical CIFAR-10 test, %


IDELBAYEV = {e.arch: e for e in (
    External("resnet20", "resnet20-12fca82f.th",
             "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 91.78),
    External("resnet32", "resnet32-d509ac18.th",
             "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", 92.78),
    External("resnet44", "resnet44-014dd654.th",
             "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", 93.14),
    External("resnet56", "resnet56-4bfd9763.th",
             "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 93.62),
)}


def candidates(entry: External) -> list[Path]:
    """Where an external checkpoint may be: shared/data beside a checkout, then the user cache."""
    from wsbench.files.cache import cache_dir
    from wsbench.files.locate import data_dirs

    return [base / FOLDER / entry.file for base in data_dirs()] + [cache_dir("checkpoints") / entry.file]


def read_external(path: Path, entry: External) -> dict:
    """The state dict of a verified external checkpoint, renamed to this package's ResNets:
    ``module.`` prefix dropped (saved from DataParallel), head ``linear`` -> ``fc``."""
    import torch

    from wsbench.files.safe_io import read_regular_file

    blob = read_regular_file(path, ModelError, "checkpoint")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != entry.sha256:
        raise ModelError(f"checkpoint {path} is not {entry.file}: its sha256 is {digest[:16]}..., "
                         f"want {entry.sha256[:16]}...")
    try:
        state = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises several types for a corrupted file
        raise ModelError(f"unreadable checkpoint {path} ({type(exc).__name__})") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else None
    if not isinstance(state, dict):
        raise ModelError(f"checkpoint {path} holds no state dict")
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        renamed["fc." + key[len("linear."):] if key.startswith("linear.") else key] = value
    return renamed


def half_split(y, seed: int = 0) -> tuple["np.ndarray", "np.ndarray"]:  # noqa: F821
    """Stratified halves of a labelled set: (validation indices, test indices), each sorted."""
    import numpy as np

    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    val, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val.append(idx[:len(idx) // 2])
        test.append(idx[len(idx) // 2:])
    return np.sort(np.concatenate(val)), np.sort(np.concatenate(test))


class ExternalCifarTask:
    """A CIFAR-10 classifier from an external checkpoint, scored on halves of the test set."""

    def __init__(self, arch: str, checkpoint: str | None = None, data: str | None = None,
                 val_limit: Limit = None, test_limit: Limit = None, seed: Seed = 0,
                 split_seed: Seed = 0) -> None:
        self.entry = IDELBAYEV[arch]
        self.arch = arch
        self.name = f"cifar10-{arch}-idelbayev"
        self.description = f"CIFAR-10 with Y. Idelbayev's pretrained {arch}"
        self.checkpoint, self.data = checkpoint, data
        self.val_limit, self.test_limit, self.seed = val_limit, test_limit, int(seed)
        self.split_seed = int(split_seed)

    def checkpoint_path(self) -> Path:
        if self.checkpoint:
            return Path(self.checkpoint).expanduser()
        places = candidates(self.entry)
        for cand in places:
            if cand.exists():
                return cand
        raise ConfigError(f"task {self.name} needs {self.entry.file} (sha256 {self.entry.sha256[:8]}...), "
                          f"Y. Idelbayev's pretrained {self.arch}: put it in {places[-1].parent} "
                          f"or pass --set task.checkpoint=PATH")

    def load(self, *, progress: bool = True):
        import numpy as np
        import torch
        from wsbench_plugins.cifar import limited
        from wsbench_plugins.cifar.data import load_cifar, to_float
        from wsbench_plugins.cifar.models import build_model

        from wsbench import TaskData

        path = self.checkpoint_path()
        model = build_model(self.arch, 10)
        try:
            model.load_state_dict(read_external(path, self.entry))
        except RuntimeError as exc:
            raise ModelError(f"checkpoint {path} does not fit {self.arch}: "
                             f"{str(exc).splitlines()[0]}") from None
        ds = load_cifar(self.data, "cifar10")
        val_idx, test_idx = half_split(ds["test_y"], self.split_seed)
        vx, vy = limited(ds["test_x"][val_idx], ds["test_y"][val_idx], self.val_limit, self.seed)
        tx, ty = limited(ds["test_x"][test_idx], ds["test_y"][test_idx], self.test_limit, self.seed)
        calib = np.sort(np.random.default_rng(0).permutation(len(ds["train_y"]))[:CALIBRATION])

        def norm(x):
            return to_float(x, IMAGENET_MEAN, IMAGENET_STD).contiguous()

        return TaskData(model.eval(), norm(vx), torch.as_tensor(vy, dtype=torch.long),
                        norm(tx), torch.as_tensor(ty, dtype=torch.long), num_classes=10,
                        calib_x=norm(ds["train_x"][calib]))


def register_external(register) -> None:
    for arch, entry in IDELBAYEV.items():
        register(f"cifar10-{arch}-idelbayev", functools.partial(ExternalCifarTask, arch),
                 f"CIFAR-10, Y. Idelbayev's pretrained {arch} (canonical test top-1 "
                 f"{entry.canonical_top1}%; trained on all 50k training images, so validation "
                 f"and test are stratified halves of the test set).")
