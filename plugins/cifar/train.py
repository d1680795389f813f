"""The CIFAR task's train() (``wsbench train``): a model trained on the paper split, with its facts.

The training loop itself is ``training.train``; this module adds the data, the split, the files
(.pt/.sha256/.log/.json and the resumable state) and the record of how they were made.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import time
from pathlib import Path

import torch
from wsbench_plugins.cifar.data import load_cifar, paper_split
from wsbench_plugins.cifar.training import bf16_supported, evaluate_accuracy, train

from wsbench.errors import ConfigError, ModelError
from wsbench.experiments import provenance
from wsbench.files.cache import atomic_write_bytes


def train_cifar_model(
    out_dir: str | Path, dataset: str = "cifar10", arch: str = "resnet20", epochs: int = 60,
    batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4, seed: int = 0,
    bf16: bool | None = None, data: str | Path | None = None, threads: int | None = None,
    progress: bool = True, adaptive_threads: bool = True, init: str | Path | None = None,
    swa_epochs: int = 0, swa_lr: float = 0.05, resume: bool = False, device: str | None = None,
    train_limit: int | None = None, eval_limit: int | None = None,
) -> dict:
    """Train ``arch`` on the paper-split training images; write <name>.pt/.sha256/.log/.json.

    While it trains, <name>.unfinished-state.pt holds the last finished epoch; ``resume``
    continues from it (the same settings are required), otherwise its presence is an error so
    that hours of training are never overwritten by accident.

    Validation (10% of the training set per class, paper_split seed 0) and test are never
    trained on; both are evaluated in fp32 at the end. <name> is ``{dataset}-{arch}``.
    ``init`` starts from a checkpoint's weights (its sha256 goes into the log and .json), so a
    model can be refined, e.g. by ``swa_epochs`` of weight averaging, without retraining.
    ``device`` (default cpu) is where training runs, data and augmentation included (a GPU
    machine trains the ResNet-18 in minutes). A rehearsal trains on a class-balanced subset of
    ``train_limit`` training images and measures accuracy on ``eval_limit`` validation and test
    images each; the limits go into the recipe.
    """
    name = f"{dataset}-{arch}"
    torch.set_num_threads(threads or os.cpu_count() or 1)
    init_state, init_facts = _start_from(init)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / f"{name}.unfinished-state.pt"
    resuming = state_path.exists()
    if resuming and not resume:
        raise ConfigError(f"{state_path} holds an unfinished training run; pass --resume to "
                          f"continue it, or delete it to start over")
    t0 = time.time()
    ds = load_cifar(data, dataset)
    tr_idx, val_idx = paper_split(ds["train_y"], frac=0.1, seed=0)
    sets = _sets(ds, tr_idx, val_idx, train_limit, eval_limit)
    use_bf16 = bf16_supported(device) if bf16 is None else bool(bf16)
    recipe = _recipe(arch, epochs, batch_size, lr, weight_decay, use_bf16, seed, adaptive_threads,
                     device, swa_epochs, swa_lr, init_facts,
                     _split_note(ds, tr_idx, val_idx, sets, bool(train_limit or eval_limit)))
    segment = _segment()
    log_path = out / f"{name}.log"
    _log_head(log_path, resuming, f"{dataset} {arch}", data, sets, recipe, segment["machine"])
    torch.manual_seed(seed)
    model = _model(arch, len(ds["classes"]), init_state, init)
    result = train(model, *sets["train"], epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, seed=seed, log_path=log_path, progress=progress,
                   bf16=use_bf16, eval_data=sets["val"], adaptive_threads=adaptive_threads,
                   swa_epochs=swa_epochs, swa_lr=swa_lr, state_path=state_path, device=device,
                   run_facts={"arch": arch, "dataset": dataset, "split": recipe["split"],
                              "init": init_facts and init_facts["sha256"]}, segment=segment)
    facts = {"dataset": dataset, "recipe": recipe, "machine": segment["machine"],
             "versions": segment["versions"], "git": segment["git"],
             **_finish(out, name, model, sets, result, t0)}
    atomic_write_bytes(out / f"{name}.json", json.dumps(facts, indent=2).encode())
    state_path.unlink(missing_ok=True)
    return facts


def _start_from(init: str | Path | None) -> tuple[dict | None, dict | None]:
    """The weights of the ``init`` checkpoint and its facts (path, sha256, and the recipe and
    accuracies of the run that made it, so the chain of runs is complete); None without one."""
    if init is None:
        return None, None
    from wsbench.tasks.checkpoint import read_checkpoint

    init_state = read_checkpoint(Path(init))
    init_facts = {"path": str(init), "sha256": hashlib.sha256(Path(init).read_bytes()).hexdigest()}
    prior = Path(init).with_suffix(".json")
    if prior.exists():
        try:
            old = json.loads(prior.read_text())
            init_facts.update(recipe=old.get("recipe"), test_acc_fp32=old.get("test_acc_fp32"),
                              val_acc_fp32=old.get("val_acc_fp32"))
        except (ValueError, OSError):
            pass
    return init_state, init_facts


def _log_head(log_path: Path, resuming: bool, what: str, data: str | Path | None, sets: dict,
              recipe: dict, machine: dict) -> None:
    """The log's opening lines (appended when resuming): data, recipe and machine."""
    with open(log_path, "a" if resuming else "w", encoding="utf-8") as fh:
        fh.write(f"{what} training{' (resuming)' if resuming else ''}\n")
        fh.write(f"data: {data or 'default location'} (train {len(sets['train'][1])}, "
                 f"val {len(sets['val'][1])}, test {len(sets['test'][1])})\n")
        fh.write(f"recipe: {json.dumps(recipe)}\nmachine: {json.dumps(machine)}\n")


def _model(arch: str, num_classes: int, init_state: dict | None, init: str | Path | None):
    """A fresh ``arch`` (from the current torch seed), with the ``init`` weights if given."""
    from wsbench_plugins.cifar.models import build_model

    model = build_model(arch, num_classes)
    if init_state is not None:
        try:
            model.load_state_dict(init_state)
        except RuntimeError as exc:
            raise ModelError(f"checkpoint {init} does not fit {arch} with {num_classes} classes: "
                             f"{str(exc).splitlines()[0]}") from None
    return model


def _split_note(ds: dict, tr_idx, val_idx, sets: dict, limited_sets: bool) -> str:
    """The recipe's account of the split (and of the rehearsal limits, if any)."""
    return (f"paper_split(frac=0.1, seed=0): train {len(tr_idx)}, val {len(val_idx)}; "
            f"test {len(ds['test_y'])}"
            + (f"; limited to train {len(sets['train'][1])}, val {len(sets['val'][1])}, "
               f"test {len(sets['test'][1])} (class-balanced, seed 0)" if limited_sets else ""))


def _recipe(arch: str, epochs: int, batch_size: int, lr: float, weight_decay: float,
            use_bf16: bool, seed: int, adaptive_threads: bool, device: str | None,
            swa_epochs: int, swa_lr: float, init_facts: dict | None, split: str) -> dict:
    """Everything that determines the weights, as written to the log and the .json."""
    return {"arch": arch, "optimizer": "SGD nesterov momentum 0.9",
            "epochs": epochs, "batch_size": batch_size, "peak_lr": lr,
            "schedule": "linear warm-up 2 epochs from lr/10, then linear decay to 0 (per step)",
            "weight_decay": weight_decay, "weight_decay_on": "conv/linear weights only",
            "label_smoothing": 0.1, "augmentation": "random crop pad 4 + horizontal flip",
            "bf16_autocast": use_bf16, "seed": seed, "adaptive_threads": adaptive_threads,
            "device": str(device or "cpu"),
            "swa_epochs": swa_epochs, "swa_lr": swa_lr if swa_epochs else None,
            "swa": "one-epoch cycles, lr linear swa_lr -> swa_lr/100; cycle-end weights averaged; "
                   "BN recomputed on shuffled, augmented training images"
                   if swa_epochs else None,
            "init": init_facts, "split": split}


def _segment() -> dict:
    """This process: machine (no hostname: committed), versions, code and start time."""
    machine = {k: v for k, v in provenance.machine().items() if k != "hostname"}  # committed
    machine.update(torch=str(torch.__version__), python=platform.python_version())
    return {"machine": machine, "versions": provenance.versions(),
            "git": provenance.git_commit(),  # the code that runs, before outputs dirty it
            "started": provenance.utc_now()}


def _finish(out: Path, name: str, model, sets: dict, result: dict, t0: float) -> dict:
    """Score the trained model in fp32, write .pt and .sha256, close the log; the end facts."""
    model = model.float().to(memory_format=torch.contiguous_format)
    val_acc = evaluate_accuracy(model, *sets["val"])
    test_acc = evaluate_accuracy(model, *sets["test"])
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    atomic_write_bytes(out / f"{name}.pt", blob)
    atomic_write_bytes(out / f"{name}.sha256", f"{digest}  {name}.pt\n".encode())
    wall = time.time() - t0
    parts = result["segments"]
    with open(out / f"{name}.log", "a", encoding="utf-8") as fh:
        fh.write(f"total wall time {wall:.1f} s{' in this process' if len(parts) > 1 else ''} "
                 f"(training {result['seconds']:.1f} s"
                 f"{f' over {len(parts)} processes' if len(parts) > 1 else ''})\n")
        fh.write(f"final fp32 val_acc {val_acc:.4f}  test_acc {test_acc:.4f}\nsha256 {digest}\n")
    return {"train_seconds": result["seconds"], "wall_seconds": wall,
            "wall_seconds_is": "this process only" if len(parts) > 1 else "the whole run",
            "segments": parts, "val_acc_fp32": val_acc, "test_acc_fp32": test_acc,
            "sha256": digest, "params": sum(p.numel() for p in model.parameters()),
            "history": result["history"]}


def _sets(ds: dict, tr_idx, val_idx, train_limit: int | None, eval_limit: int | None) -> dict:
    """(images, labels) of train, validation and test, each cut to its limit (None: all)."""
    from wsbench_plugins.cifar.data import limited

    return {"train": limited(ds["train_x"][tr_idx], ds["train_y"][tr_idx], train_limit, 0),
            "val": limited(ds["train_x"][val_idx], ds["train_y"][val_idx], eval_limit, 0),
            "test": limited(ds["test_x"], ds["test_y"], eval_limit, 0)}
