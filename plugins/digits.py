"""The default tasks: scikit-learn's 8x8 digits with a small CNN or MLP.

The default model of each task (seed 0, 30 epochs) is shipped in ``plugins/checkpoints/`` with a
sha256, so every machine scores the same weights: training is deterministic on one machine
but not across CPUs (other kernels, other rounding). ``wsbench train --task digits-cnn``
reproduces the shipped file; other seeds or epoch counts are trained on first use, always in
one thread with deterministic algorithms (2 threads gave weights 4e-4 apart), and cached under
a key that names everything that determines them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
from pathlib import Path
from typing import Annotated

from wsbench import TaskData, hookimpl
from wsbench.options import Range, Seed

RECIPE_VERSION = 2  # 2: one thread, deterministic algorithms; the defaults shipped
DEFAULT_SEED, DEFAULT_EPOCHS = 0, 30
MAX_EPOCHS = 10_000  # a few seconds an epoch at most: hours, not forever
PACKAGED = Path(__file__).resolve().parent / "checkpoints"


def build_digits_model(arch: str):
    import torch.nn as nn

    if arch == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
        )
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(),
                             nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    raise ValueError(f"unknown digits architecture {arch!r}")


def digits_splits(seed: int):
    """Stratified, seeded 60/20/20 train/validation/test split of the 1,797 digits."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images.astype(np.float32) / 16.0)[:, None]
    y = data.target.astype(np.int64)
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, test_size=0.4, stratify=y, random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=seed)
    t = lambda i: (torch.from_numpy(x[i]), torch.from_numpy(y[i]))  # noqa: E731
    return t(train), t(val), t(test)


@contextlib.contextmanager
def deterministic_cpu():
    """One torch thread and deterministic algorithms inside; the caller's settings restored."""
    import torch

    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(strict)
        torch.set_num_threads(threads)


def state_bytes(model) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


class DigitsTask:
    """Digits classification; the default model is shipped, others are trained on first use."""

    def __init__(self, arch: str = "cnn", seed: Seed = DEFAULT_SEED,
                 epochs: Annotated[int, Range(1, MAX_EPOCHS)] = DEFAULT_EPOCHS) -> None:
        self.arch = arch
        self.seed = int(seed)
        self.epochs = int(epochs)
        self.name = f"digits-{arch}"
        self.description = f"sklearn digits, small {arch.upper()}"

    @property
    def shipped(self) -> Path | None:
        """The packaged checkpoint of this configuration, if it is the default one."""
        if (self.seed, self.epochs) == (DEFAULT_SEED, DEFAULT_EPOCHS):
            return PACKAGED / f"{self.name}.pt"
        return None

    def fit(self):
        """A freshly trained model (seeded init and batches, one thread, deterministic)."""
        import torch

        train, _, _ = digits_splits(self.seed)
        with deterministic_cpu():
            torch.manual_seed(self.seed)
            model = build_digits_model(self.arch)
            gen = torch.Generator().manual_seed(self.seed)
            opt = torch.optim.Adam(model.parameters(), lr=3e-3)
            x, y = train
            model.train()
            for _ in range(self.epochs):
                perm = torch.randperm(len(y), generator=gen)
                for i in range(0, len(y), 64):
                    b = perm[i:i + 64]
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
                    opt.step()
        return model.eval()

    def train(self, out: Path, *, progress: bool = True, seed: int | None = None,
              epochs: int | None = None) -> dict:
        """Train and write ``<name>.pt``, ``.sha256`` and ``.json`` into ``out``; the facts.

        ``seed`` and ``epochs`` (``wsbench train --seed/--epochs``) train that configuration
        instead of this task's. The facts' ``summary`` says whether the file equals the shipped
        one (it does on the machine that trained it; another CPU may round differently).
        """
        from wsbench.experiments.provenance import run_info
        from wsbench.files.cache import atomic_write_bytes

        if (seed, epochs) != (None, None):  # through the registry: its option ranges apply
            from wsbench import plugins

            other = plugins.create("task", self.name, seed=self.seed if seed is None else seed,
                                   epochs=self.epochs if epochs is None else epochs)
            return other.train(out, progress=progress)
        model = self.fit()
        blob = state_bytes(model)
        sha = hashlib.sha256(blob).hexdigest()
        train, val, test = digits_splits(self.seed)
        with deterministic_cpu():
            acc = {f"{n}_acc": float((model(x).argmax(1) == y).float().mean())
                   for n, (x, y) in (("val", val), ("test", test))}
        made = run_info({"task": self.name, "seed": self.seed, "epochs": self.epochs}, self.seed)
        made["machine"].pop("hostname", None)  # committed with the shipped weights
        facts = {"task": self.name, "seed": self.seed, "epochs": self.epochs,
                 "recipe": RECIPE_VERSION, "threads": 1, "sha256": sha, **acc, "provenance": made}
        out = Path(out)
        atomic_write_bytes(out / f"{self.name}.pt", blob)
        atomic_write_bytes(out / f"{self.name}.sha256", f"{sha}  {self.name}.pt\n".encode())
        atomic_write_bytes(out / f"{self.name}.json", (json.dumps(facts, indent=1) + "\n").encode())
        facts["path"] = str(out / f"{self.name}.pt")
        facts["summary"] = self._compared_with_shipped(facts)
        return facts

    def _compared_with_shipped(self, facts: dict) -> str:
        """One line: where the model went and, for the default one, whether it is the shipped file."""
        line = f"{self.name}: wrote {facts['path']} (sha256 {facts['sha256'][:16]})"
        shipped = self.shipped
        if shipped is not None and shipped.with_suffix(".sha256").exists():
            same = shipped.with_suffix(".sha256").read_text().split()[0] == facts["sha256"]
            line += ("; identical to the shipped checkpoint" if same else
                     f"; differs from the shipped {shipped.name} (another CPU's kernels round "
                     f"differently: every task run loads the shipped file)")
        return line

    def _cached_or_trained(self):
        import torch

        from wsbench.files.cache import atomic_write_bytes, cache_dir, content_key

        key = content_key(task=self.name, seed=self.seed, epochs=self.epochs,
                          recipe=RECIPE_VERSION, torch=torch.__version__.split("+")[0])
        path = cache_dir("models") / f"{self.name}-{key}.pt"
        model = build_digits_model(self.arch)
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
        except Exception:  # absent or corrupted cache entry: train again (deterministic)
            model = self.fit()
            atomic_write_bytes(path, state_bytes(model))
        return model

    def load(self, *, progress: bool = True) -> TaskData:
        from wsbench.tasks.checkpoint import read_checkpoint

        train, val, test = digits_splits(self.seed)
        if self.shipped is not None:
            model = build_digits_model(self.arch)
            model.load_state_dict(read_checkpoint(self.shipped))
        else:
            model = self._cached_or_trained()
        model.eval()
        return TaskData(model, val[0], val[1], test[0], test[1], num_classes=10, calib_x=train[0])


@hookimpl
def wsbench_register_tasks(register) -> None:
    register("digits-cnn", functools.partial(DigitsTask, "cnn"),
             "sklearn digits (8x8), 38k-parameter CNN, weights shipped (default task).")
    register("digits-mlp", functools.partial(DigitsTask, "mlp"),
             "sklearn digits (8x8), 17k-parameter MLP, weights shipped.")
