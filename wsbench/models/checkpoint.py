"""Reading checkpoints: plain tensors only (``weights_only=True``), checked against a .sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from wsbench.errors import ModelError


def read_checkpoint(path: Path) -> dict:
    """A state dict from a checkpoint, verified against a ``.sha256`` file beside it if any."""
    import torch

    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    sha = path.with_suffix(".sha256")
    if sha.exists() and sha.read_text().split()[0] != hashlib.sha256(blob).hexdigest():
        raise ModelError(f"checkpoint {path} does not match its sha256 ({sha.name})")
    import io

    try:
        state = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises several types for a corrupted file
        raise ModelError(f"unreadable checkpoint {path}: not a file of plain tensors that "
                         f"torch.load(weights_only=True) accepts ({type(exc).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"checkpoint {path} holds no state dict")
    return state
