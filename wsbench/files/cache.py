"""Where wsbench keeps trained models and decoded datasets between runs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the user cache, overridable by WSBENCH_CACHE."""
    root = os.environ.get("WSBENCH_CACHE")
    if root:
        base = Path(root)
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir("wsbench"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def content_key(**fields: object) -> str:
    """A short stable hash of JSON-serialisable fields, used to key cache entries."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a crash never leaves a half-written file under its name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the name cut short: a 255-byte name (a long trial id) plus the suffix would not fit
    tmp = path.with_name(f".{path.name[:200]}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
