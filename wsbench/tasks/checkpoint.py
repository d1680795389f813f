"""Reading checkpoints: plain tensors only (``weights_only=True``), checked against a .sha256.

A checkpoint may also be stored as numbered parts (``name.pt.part000``, ``name.pt.part001``, ...)
beside its ``name.sha256``: files returned from a GPU machine, or committed, have a size limit
that a ResNet-18 (45 MB) exceeds. The parts are joined in memory and the whole is checked.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from wsbench.errors import ModelError
from wsbench.files.safe_io import read_regular_file

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_PART = re.compile(r"\.part(\d{3})")
PART_BYTES = 15 << 20  # under the 16 MiB a file returned from the GPU machine may have


def part_paths(path: Path) -> list[Path]:
    """The parts of ``path`` (``path.name + '.partNNN'``) in order; empty if there are none."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    found = {}
    for p in path.parent.glob(f"{path.name}.part*"):
        m = _PART.fullmatch(p.name[len(path.name):])
        if m:
            found[int(m.group(1))] = p
    return [found[i] for i in sorted(found)]


def checkpoint_exists(path: Path) -> bool:
    """Whether ``path`` can be read as a checkpoint: the file itself, or its parts."""
    return Path(path).exists() or bool(part_paths(path))


def require_checkpoint(task: object, where: str) -> None:
    """Refuse, before any trial runs, a task whose checkpoint is missing (a path that is not
    there or not a file, or none given where one is needed): otherwise each of its trials
    would fail on loading, listed among the failures instead of as one error line. Tasks
    without ``checkpoint_path()`` (digits trains on first use) need nothing."""
    from wsbench.errors import ConfigError, WsbenchError

    find = getattr(task, "checkpoint_path", None)
    if not callable(find):
        return
    try:
        path = Path(find())
    except WsbenchError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not (path.is_file() or part_paths(path)):
        raise ConfigError(f"{where}: checkpoint {path} "
                          f"{'is not a file' if path.exists() else 'does not exist'}")


def write_parts(path: Path, part_bytes: int = PART_BYTES, out_dir: Path | None = None) -> list[Path]:
    """Split the file ``path`` into parts of at most ``part_bytes`` (written atomically) in
    ``out_dir`` (default: beside it); stale parts of an earlier, longer split are removed.
    Returns the parts in order."""
    from wsbench.files.cache import atomic_write_bytes

    if part_bytes < 1:
        raise ValueError(f"part_bytes must be >= 1, got {part_bytes}")
    path = Path(path)
    blob = path.read_bytes()
    n = max(1, -(-len(blob) // part_bytes))
    if n > 1000:
        raise ValueError(f"{n} parts of {part_bytes} bytes: more than the 1000 a name can number")
    target = Path(out_dir) / path.name if out_dir is not None else path
    parts = [target.with_name(f"{target.name}.part{i:03d}") for i in range(n)]
    for i, part in enumerate(parts):
        atomic_write_bytes(part, blob[i * part_bytes:(i + 1) * part_bytes])
    for stale in part_paths(target)[n:]:
        stale.unlink()
    return parts


def _read_parts(path: Path) -> bytes:
    """The bytes of a checkpoint stored as parts; a gap in the numbering is a ModelError."""
    parts = part_paths(path)
    names = [p.name[len(path.name):] for p in parts]
    if names != [f".part{i:03d}" for i in range(len(parts))]:
        raise ModelError(f"checkpoint {path}: its parts are not numbered 000, 001, ... without "
                         f"gaps (found {', '.join(names)})")
    return b"".join(read_regular_file(p, ModelError, "checkpoint part") for p in parts)


def expected_sha256(sha: Path) -> str:
    """The digest a ``sha256sum``-style file states (``<64 hex>  name``), lower case; an empty,
    binary or otherwise malformed file is a ModelError, not a crash."""
    text = read_regular_file(sha, ModelError, "sha256 file", limit=1 << 16).decode("ascii", "replace")
    first = text.split()[0] if text.split() else ""
    if not _SHA256.fullmatch(first):
        raise ModelError(f"{sha}: malformed sha256 file (want 64 hex digits, then the file name)")
    return first.lower()


def read_checkpoint(path: Path) -> dict:
    """A state dict from a checkpoint, verified against a ``.sha256`` file beside it if any.

    Without the file itself, its parts (``path.name + '.partNNN'``) are read instead; they
    must have the ``.sha256``, since a missing or truncated part would otherwise go unnoticed.
    """
    import torch

    path = Path(path)
    sha = path.with_suffix(".sha256")
    if path.exists():
        blob = read_regular_file(path, ModelError, "checkpoint")
    elif part_paths(path):
        if not sha.exists():
            raise ModelError(f"checkpoint {path} is stored as parts but has no {sha.name} "
                             f"to check them against")
        blob = _read_parts(path)
    else:
        raise ModelError(f"cannot read checkpoint {path}: No such file or directory")
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
