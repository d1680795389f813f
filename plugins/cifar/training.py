"""Train and evaluate the CIFAR models on CPU or a GPU (the checkpoints the benchmarks compress).

Augmentation (random crop with 4-pixel padding, horizontal flip) runs on uint8 tensors in torch,
so no PIL work happens per step; bf16 autocast uses AMX where the CPU has it, weights stay fp32.
On a GPU (``device="cuda"``) the padded training set lives on the device and is cropped and
flipped there (no DataLoader); the offsets still come from the CPU generator.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from wsbench_plugins.cifar.augment import augment, device_of, to_device
from wsbench_plugins.cifar.data import to_float
from wsbench_plugins.cifar.swa import average_in, load_average, update_bn  # noqa: F401 (re-export)
from wsbench_plugins.cifar.thread_governor import ThreadGovernor as _ThreadGovernor
from wsbench_plugins.cifar.training_state import _read_state, _run_key, _where, _write_state


def bf16_supported(device: str | None = None) -> bool:
    """Whether this CPU (or the CUDA ``device``) runs bf16 natively; otherwise autocast is slower."""
    if device is not None and torch.device(device).type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up from peak/10 to peak, then linear decay to zero (one-cycle style)."""
    if step < warmup:
        return peak * (0.1 + 0.9 * step / max(1, warmup))
    return peak * max(0.0, (total - step) / max(1, total - warmup))


def evaluate_accuracy(model: nn.Module, x, y, batch_size: int = 1000, bf16: bool = False) -> float:
    """Top-1 accuracy of `model` on uint8 NHWC images `x` with labels `y` (fp32 unless bf16),
    on the device the model is on."""
    was_training = model.training
    model.eval()
    dev = device_of(model)
    x_t, y_t = torch.as_tensor(np.asarray(x)), torch.as_tensor(np.asarray(y))
    correct = 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(x_t), batch_size):
            logits = model(to_float(x_t[i : i + batch_size].to(dev)))
            correct += int((logits.argmax(1) == y_t[i : i + batch_size].to(dev)).sum())
    model.train(was_training)
    return correct / max(1, len(x_t))


@dataclass
class _Run:
    """One call of train(): data, optimizer, schedule, and what the resumable state saves."""

    model: nn.Module
    opt: torch.optim.Optimizer
    gen: torch.Generator  # the CPU generator: permutations and augmentation offsets
    x: torch.Tensor  # the uint8 NHWC training images, on the CPU
    y_dev: torch.Tensor  # their labels, on the device
    padded: torch.Tensor  # the images zero-padded by 4 pixels, on the device
    epochs: int
    swa_epochs: int
    batch_size: int
    lr: float
    swa_lr: float
    warmup_epochs: float
    label_smoothing: float
    bf16: bool
    seed: int
    eval_data: tuple | None
    progress: bool
    history: list[dict] = field(default_factory=list)
    averaged: dict[str, torch.Tensor] = field(default_factory=dict)
    n_averaged: int = 0
    step: int = 0
    t_start: float = field(default_factory=time.time)  # earlier processes' seconds subtracted
    segments: list[dict] = field(default_factory=list)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)


def train(model: nn.Module, train_x_uint8, train_y, *, epochs: int, batch_size: int, lr: float,
          weight_decay: float, seed: int, log_path: str | Path | None = None,
          progress: bool = True, bf16: bool | None = None, eval_data: tuple | None = None,
          warmup_epochs: float = 2.0, label_smoothing: float = 0.1, momentum: float = 0.9,
          adaptive_threads: bool = False, swa_epochs: int = 0, swa_lr: float = 0.05,
          state_path: str | Path | None = None, run_facts: dict | None = None,
          segment: dict | None = None, device: str | None = None) -> dict:
    """SGD-Nesterov training with warm-up + linear decay; deterministic for a seed on one machine.

    Returns {"history": [per-epoch dicts], "bf16": bool, "seconds": float}. Weight decay applies
    to conv/linear weights only (not BN or biases). eval_data=(x, y) adds a per-epoch accuracy.
    adaptive_threads drops to one thread while the CPU is contended (see _ThreadGovernor).
    swa_epochs > 0 appends stochastic weight averaging (Izmailov et al. 2018): that many one-epoch
    cycles of the rate from swa_lr down to swa_lr/100, averaging the weights at the end of each
    cycle, then BN statistics recomputed for the average, which ends up in ``model``. It aims at
    a flatter minimum for a fraction of a second schedule's cost: on the 120-epoch ResNet-20,
    10 cycles gained 0.96 points of validation accuracy (on the 60-epoch one, 9 gained nothing;
    RESULTS.md section 1).

    state_path makes the run resumable: after every epoch the weights, optimizer, random
    generators, history and SWA average are written there atomically, and a later call with the
    same arguments, data and ``run_facts`` continues after the last finished epoch with the same
    result as an uninterrupted run (a 2-core VM loses hours of training to one killed process).
    A state made by other arguments is refused. The caller deletes it once the model is saved.
    ``segment`` describes this process (machine, versions); the result's "segments" lists one
    per process that trained, so a resumed run records where each part of it ran. ``device``
    (default cpu) is where the model, the images and the augmentation live."""
    torch.manual_seed(seed)
    dev = torch.device(device or "cpu")
    use_bf16 = bf16_supported(str(dev)) if bf16 is None else bool(bf16)
    x = torch.as_tensor(np.asarray(train_x_uint8))
    y = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    model = model.to(dev, memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark |= dev.type == "cuda"  # fixed shapes: fastest kernels
    run = _Run(model, _sgd(model, lr, momentum, weight_decay), torch.Generator().manual_seed(seed),
               x, y.to(dev), F.pad(x.to(dev), (0, 0, 4, 4, 4, 4)),  # NHWC: pad H and W by 4
               epochs, swa_epochs, batch_size, lr, swa_lr, warmup_epochs, label_smoothing,
               use_bf16, seed, eval_data, progress)
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    state = Path(state_path) if state_path else None
    key = _run_key(x, y, run_facts, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, seed=seed, bf16=use_bf16, warmup_epochs=warmup_epochs,
                   label_smoothing=label_smoothing, momentum=momentum, swa_epochs=swa_epochs,
                   swa_lr=swa_lr) if state else None
    try:
        first_epoch = _resume(run, state, key) if state and state.exists() else 1
        _epochs(run, first_epoch, log, state, key, segment, adaptive_threads)
        if run.n_averaged:
            _finish_swa(run, log)
    finally:
        if log:
            log.close()
    return {"history": run.history, "bf16": use_bf16, "seconds": time.time() - run.t_start,
            "segments": run.segments}


def _sgd(model: nn.Module, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    """Nesterov SGD with weight decay on conv/linear weights only (not BN or biases)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=momentum, nesterov=True,
    )


def _resume(run: _Run, state: Path, key: str | None) -> int:
    """Restore a saved run (weights, optimizer, generators, history, average); its next epoch."""
    saved = _read_state(state, key)
    run.segments = list(saved.get("segments", []))  # states from before segments were kept
    run.model.load_state_dict(saved["model"])
    run.opt.load_state_dict(saved["optimizer"])
    run.gen.set_state(saved["generator"])
    torch.set_rng_state(saved["torch_rng"])
    run.history, run.averaged = list(saved["history"]), dict(saved["averaged"])
    run.n_averaged, run.step = int(saved["n_averaged"]), int(saved["step"])
    run.t_start -= float(saved["seconds"])
    return len(run.history) + 1


def _epochs(run: _Run, first_epoch: int, log: IO[str] | None, state: Path | None,
            key: str | None, segment: dict | None, adaptive_threads: bool) -> None:
    """The epochs from ``first_epoch`` on, each saved (when resumable) before it is logged."""
    from tqdm import tqdm

    this = {**(segment or {}), "threads": torch.get_num_threads(), "first_epoch": first_epoch,
            "train_seconds": 0.0}
    if log and 1 < first_epoch <= run.epochs + run.swa_epochs:
        _log_resumed(log, run.segments, this, first_epoch, state)
    run.segments.append(this)
    t_segment = time.time()
    governor = _ThreadGovernor(torch.get_num_threads()) if adaptive_threads else None
    for epoch in range(first_epoch, run.epochs + run.swa_epochs + 1):
        rec, perm = _epoch(run, epoch, governor)
        if run.eval_data is not None:
            rec["eval_acc"] = evaluate_accuracy(run.model, *run.eval_data, bf16=run.bf16)
        if epoch > run.epochs:
            _swa_cycle_end(run, rec, perm, epoch)
        run.history.append(rec)
        this["train_seconds"], this["last_epoch"] = time.time() - t_segment, epoch
        if state:  # before the log line: a logged epoch is a saved one
            _write_state(state, key, run.model, run.opt, run.gen, run.history, run.averaged,
                         run.n_averaged, run.step, time.time() - run.t_start, run.segments)
        line = _epoch_line(rec, run.n_averaged)
        if log:
            log.write(line + "\n")
            log.flush()
        if run.progress:
            tqdm.write(line)


def _log_resumed(log: IO[str], segments: list[dict], this: dict, first_epoch: int,
                 state: Path | None) -> None:
    changed = bool(segments) and _where(segments[-1]) != _where(this)
    log.write(f"resumed after epoch {first_epoch - 1} from {state} on {this['threads']} threads"
              + ("; machine, versions or threads differ from the previous part, so the "
                 "weights may differ slightly from an uninterrupted run" if changed else "")
              + "\n")
    log.flush()


def _epoch(run: _Run, epoch: int, governor: _ThreadGovernor | None) -> tuple[dict, torch.Tensor]:
    """One epoch of steps (past the schedule: one SWA cycle); its record and its permutation."""
    from tqdm import tqdm

    in_swa, n_steps = epoch > run.epochs, run.steps_per_epoch
    total, warmup = run.epochs * n_steps, int(run.warmup_epochs * n_steps)
    run.model.train()
    t0, loss_sum, correct, seen = time.time(), 0.0, 0, 0
    perm = torch.randperm(len(run.x), generator=run.gen)
    bar = tqdm(range(n_steps), desc=f"epoch {epoch}/{run.epochs + run.swa_epochs}",
               disable=not run.progress, leave=False, mininterval=2.0)
    one_thread_steps = 0
    for b in bar:
        t_step = time.time()
        idx = perm[b * run.batch_size : (b + 1) * run.batch_size]
        # SWA: each epoch is one cycle from swa_lr down to swa_lr/100, so the averaged
        # epoch-end weights are each nearly converged (at a constant 0.05 the ResNet-20
        # iterates were 6-12 points below the checkpoint they started from)
        cur_lr = (run.swa_lr * (1 - 0.99 * b / max(1, n_steps - 1)) if in_swa
                  else _lr_at(run.step, total, warmup, run.lr))
        loss, logits, yb = _step(run, idx, cur_lr)
        if governor is not None:
            one_thread_steps += governor.cur == 1
            governor.step_done(time.time() - t_step, len(idx))
        # kept on the device: reading them every step would stall a GPU's queue
        loss_sum = loss_sum + loss.detach().double() * len(idx)
        correct = correct + (logits.argmax(1) == yb).sum()
        seen += len(idx)
        if run.progress:
            bar.set_postfix(loss=f"{float(loss_sum) / seen:.3f}", acc=f"{int(correct) / seen:.3f}")
    bar.close()
    return {"epoch": epoch, "loss": float(loss_sum) / seen, "train_acc": int(correct) / seen,
            "lr": cur_lr, "seconds": time.time() - t0, "one_thread_steps": one_thread_steps}, perm


def _step(run: _Run, idx: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One SGD step at rate ``lr`` on the augmented images ``idx``; the loss, logits and labels."""
    dev = run.padded.device
    xb = to_float(augment(run.padded, idx, run.gen)).contiguous(memory_format=torch.channels_last)
    yb = run.y_dev[to_device(idx, dev)]
    for g in run.opt.param_groups:
        g["lr"] = lr
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=run.bf16):
        logits = run.model(xb)
    loss = F.cross_entropy(logits.float(), yb, label_smoothing=run.label_smoothing)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    run.step += 1
    return loss, logits, yb


def _swa_cycle_end(run: _Run, rec: dict, perm: torch.Tensor, epoch: int) -> None:
    """Fold this cycle's end weights into the average; with eval data, score the average so far."""
    run.n_averaged += 1
    average_in(run.model, run.averaged, run.n_averaged)
    rec["swa_models"] = run.n_averaged
    if run.eval_data is not None:  # the average so far, BN statistics from 10k images
        probe = copy.deepcopy(run.model)
        load_average(probe, run.averaged)
        update_bn(probe, run.x[perm[:10_000]], bf16=run.bf16, seed=run.seed + epoch)
        rec["swa_eval_acc"] = evaluate_accuracy(probe, *run.eval_data, bf16=run.bf16)


def _finish_swa(run: _Run, log: IO[str] | None) -> None:
    """The averaged weights into the model, with BN statistics recomputed for them."""
    load_average(run.model, run.averaged)
    update_bn(run.model, run.x, bf16=run.bf16, seed=run.seed)
    if log:
        log.write(f"swa: {run.n_averaged} cycle-end weights averaged (lr {run.swa_lr} -> "
                  f"{run.swa_lr / 100:g}); BN statistics recomputed on {len(run.x)} augmented "
                  f"training images\n")


def _epoch_line(rec: dict, n_averaged: int) -> str:
    """The log line of an epoch's record."""
    line = (f"epoch {rec['epoch']:3d}  loss {rec['loss']:.4f}  train_acc {rec['train_acc']:.4f}  "
            f"lr {rec['lr']:.5f}  sec {rec['seconds']:.1f}  1-thread-steps {rec['one_thread_steps']}")
    if "eval_acc" in rec:
        line += f"  eval_acc {rec['eval_acc']:.4f}"
    if "swa_eval_acc" in rec:
        line += f"  swa_eval_acc {rec['swa_eval_acc']:.4f} ({n_averaged} averaged)"
    return line
