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
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsbench_plugins.cifar.data import to_float
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


def _augment(padded: torch.Tensor, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 32x32 crops of the 4-pixel zero-padded uint8 NHWC images, randomly flipped."""
    n, size = len(idx), padded.shape[1] - 8
    oy = torch.randint(0, 9, (n,), generator=gen)
    ox = torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    ar = torch.arange(size)
    rows = (oy[:, None] + ar)[:, :, None]
    cols = ox[:, None] + ar
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]
    dev = padded.device  # offsets drawn on the CPU, the gather done where the images are
    return padded[_to(idx[:, None, None], dev), _to(rows, dev), _to(cols, dev)]


def _to(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """``t`` on ``dev``; to a GPU via pinned memory, so the copy does not wait for queued steps."""
    return t if dev.type == "cpu" else t.pin_memory().to(dev, non_blocking=True)


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
    dev = _device_of(model)
    x_t, y_t = torch.as_tensor(np.asarray(x)), torch.as_tensor(np.asarray(y))
    correct = 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(x_t), batch_size):
            logits = model(to_float(x_t[i : i + batch_size].to(dev)))
            correct += int((logits.argmax(1) == y_t[i : i + batch_size].to(dev)).sum())
    model.train(was_training)
    return correct / max(1, len(x_t))


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device


def train(
    model: nn.Module,
    train_x_uint8,
    train_y,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    log_path: str | Path | None = None,
    progress: bool = True,
    bf16: bool | None = None,
    eval_data: tuple | None = None,
    warmup_epochs: float = 2.0,
    label_smoothing: float = 0.1,
    momentum: float = 0.9,
    adaptive_threads: bool = False,
    swa_epochs: int = 0,
    swa_lr: float = 0.05,
    state_path: str | Path | None = None,
    run_facts: dict | None = None,
    segment: dict | None = None,
    device: str | None = None,
) -> dict:
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
    from tqdm import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = torch.device(device or "cpu")
    use_bf16 = bf16_supported(str(dev)) if bf16 is None else bool(bf16)
    x = torch.as_tensor(np.asarray(train_x_uint8))
    y = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    y_dev = y.to(dev)
    padded = F.pad(x.to(dev), (0, 0, 4, 4, 4, 4))  # NHWC: pad H and W by 4 with zeros
    model = model.to(dev, memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark |= dev.type == "cuda"  # fixed shapes: fastest kernels
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=momentum, nesterov=True,
    )
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total, warmup = epochs * steps_per_epoch, int(warmup_epochs * steps_per_epoch)
    averaged: dict[str, torch.Tensor] = {}
    n_averaged = 0
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    history: list[dict] = []
    step, t_start, first_epoch = 0, time.time(), 1
    key = _run_key(x, y, run_facts, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, seed=seed, bf16=use_bf16, warmup_epochs=warmup_epochs,
                   label_smoothing=label_smoothing, momentum=momentum, swa_epochs=swa_epochs,
                   swa_lr=swa_lr) if state_path else None
    segments: list[dict] = []
    if state_path and Path(state_path).exists():
        saved = _read_state(Path(state_path), key)
        segments = list(saved.get("segments", []))  # states from before segments were kept
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        history, averaged = list(saved["history"]), dict(saved["averaged"])
        n_averaged, step = int(saved["n_averaged"]), int(saved["step"])
        first_epoch = len(history) + 1
        t_start -= float(saved["seconds"])
    this = {**(segment or {}), "threads": torch.get_num_threads(), "first_epoch": first_epoch,
            "train_seconds": 0.0}
    if log and first_epoch > 1 and first_epoch <= epochs + swa_epochs:
        changed = bool(segments) and _where(segments[-1]) != _where(this)
        log.write(f"resumed after epoch {first_epoch - 1} from {state_path} on "
                  f"{this['threads']} threads"
                  + ("; machine, versions or threads differ from the previous part, so the "
                     "weights may differ slightly from an uninterrupted run" if changed else "")
                  + "\n")
        log.flush()
    segments.append(this)
    t_segment = time.time()
    governor = _ThreadGovernor(torch.get_num_threads()) if adaptive_threads else None
    try:
        for epoch in range(first_epoch, epochs + swa_epochs + 1):
            in_swa = epoch > epochs
            model.train()
            t0, loss_sum, correct, seen = time.time(), 0.0, 0, 0
            perm = torch.randperm(len(x), generator=gen)
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{epochs + swa_epochs}",
                       disable=not progress, leave=False, mininterval=2.0)
            one_thread_steps = 0
            for b in bar:
                t_step = time.time()
                idx = perm[b * batch_size : (b + 1) * batch_size]
                xb = to_float(_augment(padded, idx, gen)).contiguous(memory_format=torch.channels_last)
                yb = y_dev[_to(idx, dev)]
                # SWA: each epoch is one cycle from swa_lr down to swa_lr/100, so the averaged
                # epoch-end weights are each nearly converged (at a constant 0.05 the ResNet-20
                # iterates were 6-12 points below the checkpoint they started from)
                cur_lr = (swa_lr * (1 - 0.99 * b / max(1, steps_per_epoch - 1)) if in_swa
                          else _lr_at(step, total, warmup, lr))
                for g in opt.param_groups:
                    g["lr"] = cur_lr
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                    logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb, label_smoothing=label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                if governor is not None:
                    one_thread_steps += governor.cur == 1
                    governor.step_done(time.time() - t_step, len(idx))
                # kept on the device: reading them every step would stall a GPU's queue
                loss_sum = loss_sum + loss.detach().double() * len(idx)
                correct = correct + (logits.argmax(1) == yb).sum()
                seen += len(idx)
                if progress:
                    bar.set_postfix(loss=f"{float(loss_sum) / seen:.3f}",
                                    acc=f"{int(correct) / seen:.3f}")
            bar.close()
            rec = {"epoch": epoch, "loss": float(loss_sum) / seen, "train_acc": int(correct) / seen,
                   "lr": cur_lr, "seconds": time.time() - t0, "one_thread_steps": one_thread_steps}
            if eval_data is not None:
                rec["eval_acc"] = evaluate_accuracy(model, *eval_data, bf16=use_bf16)
            if in_swa:
                n_averaged += 1
                for k, p in model.named_parameters():
                    p32 = p.detach().float()
                    averaged[k] = p32.clone() if n_averaged == 1 else averaged[k] + (p32 - averaged[k]) / n_averaged
                rec["swa_models"] = n_averaged
                if eval_data is not None:  # the average so far, BN statistics from 10k images
                    probe = copy.deepcopy(model)
                    _load_average(probe, averaged)
                    update_bn(probe, x[perm[:10_000]], bf16=use_bf16, seed=seed + epoch)
                    rec["swa_eval_acc"] = evaluate_accuracy(probe, *eval_data, bf16=use_bf16)
            history.append(rec)
            this["train_seconds"], this["last_epoch"] = time.time() - t_segment, epoch
            if state_path:  # before the log line: a logged epoch is a saved one
                _write_state(Path(state_path), key, model, opt, gen, history, averaged,
                             n_averaged, step, time.time() - t_start, segments)
            line = (f"epoch {epoch:3d}  loss {rec['loss']:.4f}  train_acc {rec['train_acc']:.4f}  "
                    f"lr {rec['lr']:.5f}  sec {rec['seconds']:.1f}  1-thread-steps {one_thread_steps}")
            if "eval_acc" in rec:
                line += f"  eval_acc {rec['eval_acc']:.4f}"
            if "swa_eval_acc" in rec:
                line += f"  swa_eval_acc {rec['swa_eval_acc']:.4f} ({n_averaged} averaged)"
            if log:
                log.write(line + "\n")
                log.flush()
            if progress:
                tqdm.write(line)
        if n_averaged:
            _load_average(model, averaged)
            update_bn(model, x, bf16=use_bf16, seed=seed)
            if log:
                log.write(f"swa: {n_averaged} cycle-end weights averaged (lr {swa_lr} -> {swa_lr / 100:g}); "
                          f"BN statistics recomputed on {len(x)} augmented training images\n")
    finally:
        if log:
            log.close()
    return {"history": history, "bf16": use_bf16, "seconds": time.time() - t_start,
            "segments": segments}


def _load_average(model: nn.Module, averaged: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for k, p in model.named_parameters():
            p.copy_(averaged[k].to(p.dtype))


def update_bn(model: nn.Module, x_uint8, batch_size: int = 500, bf16: bool = False,
              seed: int = 0) -> None:
    """Recompute BatchNorm running statistics as exact averages over augmented training images.

    Averaged weights never produced the running statistics the iterates left behind, so an
    SWA model needs new ones. The images are shuffled (the paper split lists them class by
    class, and single-class batches understate the variance) and augmented as in training
    (measured on the 87.66% ResNet-20: statistics from unaugmented images cost 3.1 points of
    validation accuracy, augmented ones matched the training-time statistics).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = model.training
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
    model.train()
    gen = torch.Generator().manual_seed(seed)
    dev = _device_of(model)
    padded = F.pad(torch.as_tensor(np.asarray(x_uint8)).to(dev), (0, 0, 4, 4, 4, 4))
    order = torch.randperm(len(padded), generator=gen)
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(order), batch_size):
            xb = _augment(padded, order[i : i + batch_size], gen)
            for m in bns:  # a running mean weighted by batch size: exact over uneven batches
                m.momentum = len(xb) / (i + len(xb))
            model(to_float(xb).contiguous(memory_format=torch.channels_last))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)
