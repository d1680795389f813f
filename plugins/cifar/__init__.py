"""CIFAR tasks: the paper's splits (validation = 10% of training per class, test = official).

``cifar10-resnet20`` loads the checkpoint committed with wsbench (trained here on CIFAR-10 JPEG,
see plugins/checkpoints/); a committed checkpoint may be split into parts (``NAME.pt.part000``
... beside ``NAME.sha256``), as the ResNet-18 trained on a GPU machine is. Other architectures
need a checkpoint: ``wsbench train --task NAME`` writes one into the user cache, or pass
``--set task.checkpoint=PATH``. Checkpoints are read
with ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

from pathlib import Path

from wsbench.errors import ConfigError, ModelError
from wsbench.hookspecs import hookimpl
from wsbench_plugins.cifar.data import limited  # noqa: F401 (re-export: it lived here)
from wsbench.checkpoint import checkpoint_exists, read_checkpoint
from wsbench.task import TaskData

PACKAGED = Path(__file__).resolve().parents[1] / "checkpoints"  # plugins/checkpoints
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}


def checkpoint_candidates(name: str) -> list[Path]:
    from wsbench.cache import cache_dir

    return [PACKAGED / f"{name}.pt", cache_dir("checkpoints") / f"{name}.pt"]


class CifarTask:
    """A CIFAR classifier with the paper's validation/test splits, as float tensors."""

    def __init__(self, dataset: str = "cifar10", arch: str = "resnet20", checkpoint: str | None = None,
                 data: str | None = None, val_limit: int | None = None,
                 test_limit: int | None = None, seed: int = 0) -> None:
        if dataset not in NUM_CLASSES:
            raise ConfigError(f"unknown CIFAR dataset {dataset!r}; use cifar10 or cifar100")
        self.dataset, self.arch = dataset, arch
        self.name = f"{dataset}-{arch}"
        self.description = f"{dataset} with {arch}"
        self.checkpoint = checkpoint
        self.data = data
        self.val_limit, self.test_limit, self.seed = val_limit, test_limit, int(seed)

    def checkpoint_path(self) -> Path:
        if self.checkpoint:
            return Path(self.checkpoint).expanduser()
        for cand in checkpoint_candidates(self.name):
            if checkpoint_exists(cand):  # the file, or its committed parts
                return cand
        raise ConfigError(f"task {self.name} has no checkpoint: train one with "
                          f"`wsbench train --task {self.name}` or pass --set task.checkpoint=PATH")

    def load(self, *, progress: bool = True) -> TaskData:
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
        _, val_idx = paper_split(ds["train_y"], frac=0.1, seed=0)
        vx, vy = limited(ds["train_x"][val_idx], ds["train_y"][val_idx], self.val_limit, self.seed)
        tx, ty = limited(ds["test_x"], ds["test_y"], self.test_limit, self.seed)
        return TaskData(model.eval(), to_float(vx).contiguous(), torch.as_tensor(vy, dtype=torch.long),
                        to_float(tx).contiguous(), torch.as_tensor(ty, dtype=torch.long),
                        num_classes=NUM_CLASSES[self.dataset])


@hookimpl
def wsbench_register_tasks(register) -> None:
    for dataset in NUM_CLASSES:
        for arch in ("resnet20", "resnet18"):
            note = (" (checkpoint shipped with wsbench)" if (dataset, arch) == ("cifar10", "resnet20")
                    else " (needs `wsbench train` or task.checkpoint)")
            register(f"{dataset}-{arch}",
                     lambda _d=dataset, _a=arch, **kw: CifarTask(_d, _a, **kw),
                     f"{dataset.upper()}, {arch} with the CIFAR stem, paper splits{note}.")
