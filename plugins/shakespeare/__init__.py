"""Language-model tasks: a character GRU and a small transformer on Tiny Shakespeare.

``shakespeare-gru`` and ``shakespeare-transformer`` score next-character accuracy on fixed,
non-overlapping windows of the corpus's contiguous validation and test splits
(:mod:`.data`); bits per character are in the model's facts (``.json``). The default models
(seed 0) ship in ``plugins/checkpoints/`` with a sha256, trained here in one CPU thread by
``wsbench train --task shakespeare-gru`` (:mod:`.train`); which tensors join the codebook is
said in :mod:`.models`. Run searches with ``metric = "accuracy"``: the default macro F1 over
65 characters is computed too, but it is not the language models' measure.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Annotated

from wsbench import TaskData, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Range, Seed

PACKAGED = Path(__file__).resolve().parents[1] / "checkpoints"
CONTEXT = 128
Windows = Annotated[int | None, Range(1, 1_000_000)]  # windows of a split kept


class ShakespeareTask:
    """A character-level language model; the default one is shipped, others need ``train``."""

    def __init__(self, arch: str, seed: Seed = 0, data: str | None = None,
                 checkpoint: str | None = None,
                 context: Annotated[int, Range(1, 4096)] = CONTEXT,
                 val_limit: Windows = None, test_limit: Windows = None) -> None:
        self.arch, self.seed, self.data, self.checkpoint = arch, int(seed), data, checkpoint
        self.context = int(context)
        # a seeded subset of the validation / test windows (None: all): cheaper searches whose
        # fronts are re-scored on what they searched on, as the CIFAR tasks' val_limit does
        self.val_limit, self.test_limit = val_limit, test_limit
        self.name = f"shakespeare-{arch}"
        self.description = f"Tiny Shakespeare, character-level {arch}"

    def checkpoint_path(self) -> Path:
        if self.checkpoint:
            return Path(self.checkpoint).expanduser()
        if self.seed == 0 and (PACKAGED / f"{self.name}.pt").exists():
            return PACKAGED / f"{self.name}.pt"
        from wsbench.files.cache import cache_dir

        cached = cache_dir("checkpoints") / f"{self.name}-s{self.seed}.pt"
        if cached.exists():
            return cached
        raise ConfigError(f"task {self.name} (seed {self.seed}) has no checkpoint: train one with "
                          f"`wsbench train --task {self.name} --seed {self.seed} --out "
                          f"{cached.parent}` (renamed {cached.name}) or pass --set task.checkpoint=PATH")

    def splits(self):
        """The corpus, its training ids, and the validation and test windows."""
        from wsbench_plugins.shakespeare.data import read_corpus, split_ids, windows

        corpus = read_corpus(self.data)
        train, val, test = split_ids(corpus.ids)
        return (corpus, train, _limited(windows(val, self.context), self.val_limit, self.seed),
                _limited(windows(test, self.context), self.test_limit, self.seed))

    def load(self, *, progress: bool = True) -> TaskData:
        from wsbench_plugins.shakespeare.data import windows
        from wsbench_plugins.shakespeare.models import build_lm

        from wsbench.errors import ModelError
        from wsbench.tasks.checkpoint import read_checkpoint

        corpus, train, (vx, vy), (tx, ty) = self.splits()
        model = build_lm(self.arch, len(corpus.vocab), self.context)
        path = self.checkpoint_path()
        try:
            model.load_state_dict(read_checkpoint(path))
        except RuntimeError as exc:
            raise ModelError(f"checkpoint {path} does not fit {self.name} with a vocabulary of "
                             f"{len(corpus.vocab)}: {str(exc).splitlines()[0]}") from None
        calib, _ = windows(train[:64 * self.context + 1], self.context)  # 64 training windows
        return TaskData(model.eval(), vx, vy, tx, ty, num_classes=len(corpus.vocab), calib_x=calib)

    def train(self, out: str | Path, *, progress: bool = True, seed: int | None = None,
              steps: int | None = None, data: str | None = None) -> dict:
        """Train this task's model into ``out`` (``<name>.pt``, ``.sha256``, ``.json``)."""
        from dataclasses import replace

        import torch
        from wsbench_plugins.digits import deterministic_cpu, state_bytes
        from wsbench_plugins.shakespeare.models import build_lm
        from wsbench_plugins.shakespeare.train import RECIPES, evaluate, train_lm

        from wsbench.experiments.provenance import run_info
        from wsbench.files.cache import atomic_write_bytes

        seed = self.seed if seed is None else int(seed)
        if steps is not None and int(steps) < 1:
            raise ConfigError(f"--steps must be at least 1, got {steps}")
        if data is not None:
            self.data = data
        recipe = RECIPES[self.arch] if steps is None else replace(RECIPES[self.arch], steps=int(steps))
        corpus, train, (vx, vy), (tx, ty) = self.splits()
        from tqdm.auto import tqdm

        with deterministic_cpu(), tqdm(total=recipe.steps, desc=f"train {self.name}", unit="step",
                                       disable=not progress) as bar:
            torch.manual_seed(seed)
            model = build_lm(self.arch, len(corpus.vocab), self.context)
            facts = train_lm(model, train, recipe, self.context, seed,
                             progress=lambda step, loss: (bar.update(), bar.set_postfix(loss=f"{loss:.3f}")))
            val, test = evaluate(model, vx, vy), evaluate(model, tx, ty)
        blob = state_bytes(model)
        sha = hashlib.sha256(blob).hexdigest()
        made = run_info({"task": self.name, "seed": seed}, seed)
        made["machine"].pop("hostname", None)  # committed with the shipped weights
        facts = {"task": self.name, "seed": seed, "sha256": sha, "corpus_sha256": corpus.sha256,
                 "vocab": len(corpus.vocab), "context": self.context, "threads": 1,
                 "parameters": sum(p.numel() for p in model.parameters()),
                 "val_accuracy": val["accuracy"], "val_bits_per_char": val["bits_per_char"],
                 "test_accuracy": test["accuracy"], "test_bits_per_char": test["bits_per_char"],
                 **facts, "provenance": made}
        out = Path(out)
        atomic_write_bytes(out / f"{self.name}.pt", blob)
        atomic_write_bytes(out / f"{self.name}.sha256", f"{sha}  {self.name}.pt\n".encode())
        atomic_write_bytes(out / f"{self.name}.json", (json.dumps(facts, indent=1) + "\n").encode())
        facts["path"] = str(out / f"{self.name}.pt")
        facts["summary"] = (f"{self.name}: test accuracy {test['accuracy']:.4f}, "
                            f"{test['bits_per_char']:.3f} bits/char, {facts['train_seconds']:.0f} s; "
                            f"wrote {facts['path']} (sha256 {sha[:16]})")
        return facts


def _limited(split: tuple, limit: int | None, seed: int) -> tuple:
    """At most ``limit`` of a split's windows, a seeded draw kept in corpus order."""
    import numpy as np

    x, y = split
    if limit is None or limit >= len(x):
        return x, y
    rows = np.sort(np.random.default_rng(seed).permutation(len(x))[:limit])
    return x[rows], y[rows]


@hookimpl
def wsbench_register_tasks(register) -> None:
    register("shakespeare-gru", functools.partial(ShakespeareTask, "gru"),
             "Tiny Shakespeare, character-level GRU (0.55M parameters), next-character accuracy.")
    register("shakespeare-transformer", functools.partial(ShakespeareTask, "transformer"),
             "Tiny Shakespeare, character-level 4-layer transformer (0.83M parameters), "
             "next-character accuracy.")
