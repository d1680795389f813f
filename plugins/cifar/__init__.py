"""CIFAR tasks: the paper's splits (validation = 10% of training per class, test = official).

``cifar10-resnet20`` loads the checkpoint committed with wsbench (trained here on CIFAR-10 JPEG,
see plugins/checkpoints/); a committed checkpoint may be split into parts (``NAME.pt.part000``
... beside ``NAME.sha256``), as the ResNet-18 trained on a GPU machine is. Other architectures
need a checkpoint: ``wsbench train --task NAME`` (the task's ``train()``) writes one into the
user cache, or pass ``--set task.checkpoint=PATH``. Checkpoints are read
with ``torch.load(weights_only=True)`` only.

Everything only CIFAR needs lives in this package, so the core knows no dataset: ``data``
(CIFAR and ImageNet loading, the paper split), ``models`` (the ResNets), ``training`` (the
loop), ``train`` (a trained model with its files and facts).
"""

from __future__ import annotations

import functools
from pathlib import Path

from wsbench_plugins.cifar.data import Limit, limited  # noqa: F401 (limited: re-export, it lived here)

from wsbench import TaskData, hookimpl
from wsbench.errors import ConfigError, ModelError
from wsbench.options import Seed
from wsbench.tasks.checkpoint import checkpoint_exists, read_checkpoint

PACKAGED = Path(__file__).resolve().parents[1] / "checkpoints"  # plugins/checkpoints
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
CALIBRATION = 2000  # training images a calibrating method may fit on (TaskData.calib_x)


def checkpoint_candidates(name: str) -> list[Path]:
    """Where a task's checkpoint may be: shipped with wsbench, then the user cache."""
    from wsbench.files.cache import cache_dir

    return [PACKAGED / f"{name}.pt", cache_dir("checkpoints") / f"{name}.pt"]


class CifarTask:
    """A CIFAR classifier with the paper's validation/test splits, as float tensors."""

    def __init__(self, dataset: str = "cifar10", arch: str = "resnet20", checkpoint: str | None = None,
                 data: str | None = None, val_limit: Limit = None,
                 test_limit: Limit = None, seed: Seed = 0) -> None:
        if dataset not in NUM_CLASSES:
            raise ConfigError(f"unknown CIFAR dataset {dataset!r}; use cifar10 or cifar100")
        self.dataset, self.arch = dataset, arch
        self.name = f"{dataset}-{arch}"
        self.description = f"{dataset} with {arch}"
        self.checkpoint = checkpoint
        self.data = data
        self.val_limit, self.test_limit, self.seed = val_limit, test_limit, int(seed)

    def checkpoint_path(self) -> Path:
        """The checkpoint this task loads: the one given, else the first that exists."""
        if self.checkpoint:
            return Path(self.checkpoint).expanduser()
        for cand in checkpoint_candidates(self.name):
            if checkpoint_exists(cand):  # the file, or its committed parts
                return cand
        raise ConfigError(f"task {self.name} has no checkpoint: train one with "
                          f"`wsbench train --task {self.name}` or pass --set task.checkpoint=PATH")

    def load(self, *, progress: bool = True) -> TaskData:
        """The trained model with the paper's validation split and the test set (limited if asked)."""
        import numpy as np
        import torch
        from wsbench_plugins.cifar.data import load_cifar, paper_split, to_float
        from wsbench_plugins.cifar.models import build_model

        path = self.checkpoint_path()
        model = build_model(self.arch, NUM_CLASSES[self.dataset])
        try:
            model.load_state_dict(read_checkpoint(path))
        except RuntimeError as exc:
            raise ModelError(f"checkpoint {path} does not fit {self.arch}: "
                             f"{str(exc).splitlines()[0]}") from None
        ds = load_cifar(self.data, self.dataset)
        train_idx, val_idx = paper_split(ds["train_y"], frac=0.1, seed=0)
        vx, vy = limited(ds["train_x"][val_idx], ds["train_y"][val_idx], self.val_limit, self.seed)
        tx, ty = limited(ds["test_x"], ds["test_y"], self.test_limit, self.seed)
        calib = np.random.default_rng(0).permutation(train_idx)[:CALIBRATION]
        return TaskData(model.eval(), to_float(vx).contiguous(), torch.as_tensor(vy, dtype=torch.long),
                        to_float(tx).contiguous(), torch.as_tensor(ty, dtype=torch.long),
                        num_classes=NUM_CLASSES[self.dataset],
                        calib_x=to_float(ds["train_x"][np.sort(calib)]).contiguous())

    def train(self, out: str | Path, *, progress: bool = True, epochs: int | None = None,
              batch_size: int = 128, lr: float = 0.1, seed: int = 0,
              data: str | Path | None = None, threads: int | None = None,
              init: str | Path | None = None, swa_epochs: int = 0, swa_lr: float = 0.05,
              resume: bool = False, device: str | None = None, train_limit: int | None = None,
              eval_limit: int | None = None) -> dict:
        """Train this task's model on the paper's training split into ``out`` (``wsbench train``).

        The options are ``train_cifar_model``'s (``data`` defaults to this task's); ``epochs``
        defaults to 60 and may be 0 only to refine ``init`` by ``swa_epochs``. Returns its facts,
        with ``path`` and a ``summary``. Without ``threads``, CPU training drops to one thread
        while another process competes for the cores (see ``thread_governor``)."""
        from wsbench import validate

        epochs = 60 if epochs is None else epochs
        if epochs == 0 and not (init and swa_epochs):  # the rest: validated at parsing
            raise ConfigError("--epochs must be at least 1 (0 only with --init and --swa-epochs)")
        from wsbench_plugins.cifar.train import train_cifar_model

        device = None if device in (None, "auto") else device
        validate.device_available(device, "--device")
        on_gpu = device is not None and device != "cpu"
        facts = train_cifar_model(out, dataset=self.dataset, arch=self.arch, epochs=epochs,
                                  batch_size=batch_size, lr=lr, seed=seed,
                                  data=data if data is not None else self.data, progress=progress,
                                  threads=threads, adaptive_threads=threads is None and not on_gpu,
                                  init=init, swa_epochs=swa_epochs, swa_lr=swa_lr, resume=resume,
                                  device=device, train_limit=train_limit, eval_limit=eval_limit)
        facts["path"] = f"{out}/{self.name}.pt"
        facts["summary"] = (f"{self.name}: val accuracy {facts['val_acc_fp32']:.4f}, test accuracy "
                            f"{facts['test_acc_fp32']:.4f}, {facts['wall_seconds']:.0f} s; "
                            f"wrote {facts['path']}")
        return facts


@hookimpl
def wsbench_register_tasks(register) -> None:
    """The CIFAR tasks: CIFAR-10/100 with ResNet-20 or the CIFAR-stem ResNet-18, and the external
    checkpoints (:mod:`wsbench_plugins.cifar.external`)."""
    from wsbench_plugins.cifar.external import register_external

    register_external(register)
    for dataset in NUM_CLASSES:
        for arch in ("resnet20", "resnet18"):
            note = (" (checkpoint shipped with wsbench)" if (dataset, arch) == ("cifar10", "resnet20")
                    else " (needs `wsbench train` or task.checkpoint)")
            register(f"{dataset}-{arch}", functools.partial(CifarTask, dataset, arch),
                     f"{dataset.upper()}, {arch} with the CIFAR stem, paper splits{note}.")
