"""The resumable state of a training run: what is saved after each epoch, and the key that a
resumed run must match (arguments, data and facts), so a killed run continues, never mixes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from torch import nn

from wsbench.errors import ConfigError, ModelError
from wsbench.files.cache import atomic_write_bytes, content_key


def _where(segment: dict) -> dict:
    """What a resumed part must share with the previous one to give bit-identical weights."""
    return {k: v for k, v in segment.items()
            if k not in ("first_epoch", "last_epoch", "train_seconds", "started", "git")}


def _run_key(x: torch.Tensor, y: torch.Tensor, run_facts: dict | None, **args: object) -> str:
    """What a resumed run must share with the run that saved the state: arguments and data."""
    data = hashlib.sha256(x.numpy().tobytes())
    data.update(y.numpy().tobytes())
    return content_key(args=args, data=data.hexdigest(), facts=run_facts)


def _write_state(path: Path, key: str | None, model: nn.Module, opt, gen: torch.Generator,
                 history: list[dict], averaged: dict, n_averaged: int, step: int,
                 seconds: float, segments: list[dict]) -> None:
    buf = io.BytesIO()
    torch.save({"key": key, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                "history": history, "averaged": averaged, "n_averaged": n_averaged,
                "step": step, "seconds": seconds, "segments": segments}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _read_state(path: Path, key: str | None) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        missing = {"key", "model", "optimizer", "generator", "torch_rng", "history", "averaged",
                   "n_averaged", "step", "seconds"} - set(saved)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ModelError(f"cannot read the training state {path} ({type(exc).__name__}); "
                         f"delete it to start over") from None
    if missing:
        raise ModelError(f"the training state {path} lacks {', '.join(sorted(missing))}; "
                         f"delete it to start over")
    if saved["key"] != key:
        raise ConfigError(f"the training state {path} was saved by a run with other settings or "
                          f"data; rerun with those, or delete it to start over")
    return saved
