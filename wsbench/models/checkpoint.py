"""Reading checkpoints: plain tensors only (``weights_only=True``), checked against a .sha256."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from wsbench.errors import ModelError
from wsbench.safe_io import read_regular_file

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def expected_sha256(sha: Path) -> str:
    """The digest a ``sha256sum``-style file states (``<64 hex>  name``), lower case; an empty,
    binary or otherwise malformed file is a ModelError, not a crash."""
    text = read_regular_file(sha, ModelError, "sha256 file", limit=1 << 16).decode("ascii", "replace")
    first = text.split()[0] if text.split() else ""
    if not _SHA256.fullmatch(first):
        raise ModelError(f"{sha}: malformed sha256 file (want 64 hex digits, then the file name)")
    return first.lower()


def read_checkpoint(path: Path) -> dict:
    """A state dict from a checkpoint, verified against a ``.sha256`` file beside it if any."""
    import torch

    path = Path(path)
    if not path.exists():
        raise ModelError(f"cannot read checkpoint {path}: No such file or directory")
    blob = read_regular_file(path, ModelError, "checkpoint")
    sha = path.with_suffix(".sha256")
    if sha.exists() and expected_sha256(sha) != hashlib.sha256(blob).hexdigest():
        raise ModelError(f"checkpoint {path} does not match its sha256 ({sha.name})")

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
