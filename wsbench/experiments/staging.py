"""Results folders written atomically as a whole (``wsbench compress`` run folders), and the
checks every results root gets before a search; the mechanics behind :mod:`wsbench.experiments.store`.

A folder is written into a hidden staging folder ``.<name>.partial`` that is renamed at the end,
so an interrupted run never leaves a folder that looks complete. The writer holds a lock on
``.<name>.partial.lock`` meanwhile: a staging folder whose lock is free was left by a killed run
and the next run into that root removes it. A rename never replaces a finished folder (a random
suffix is added instead), so runs ending in the same second keep both results.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Callable

from wsbench.errors import ConfigError
from wsbench.experiments import locking

PARTIAL_MAX_AGE = 24 * 3600  # seconds: a staging folder with no lock file is then abandoned


def write_staged(out_root: str | Path, name: str, write: Callable[[Path], None]) -> Path:
    """Call ``write`` on an empty staging folder, then publish it as ``out_root/name``; the
    folder's path (a fresh suffix is added rather than replace an existing folder)."""
    out_root = Path(out_root)
    stage = out_root / f".{name}.partial"
    lock = locking.take(stage.with_name(stage.name + ".lock"))
    if lock is None:
        raise ConfigError(f"{out_root / name}: another process is writing it")
    with lock:
        if stage.exists():  # left by a killed run of the same name: ours now
            shutil.rmtree(stage)
        try:
            write(stage)
            return _publish(stage, out_root, name)
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)


def _publish(stage: Path, out_root: Path, name: str) -> Path:
    """Rename the staging folder to ``name``, or to ``name-<random>`` while that is taken:
    rename(2) never replaces a non-empty folder, so no finished run is ever overwritten."""
    final = out_root / name
    for _ in range(20):
        if not final.exists():
            try:
                os.rename(stage, final)
                return final
            except OSError:  # made meanwhile by another process
                pass
        final = out_root / f"{name}-{secrets.token_hex(3)}"
    raise FileExistsError(f"{out_root / name}: no free folder name")


def prepare_root(root: str | Path, name: str | None, flag: str = "--out") -> None:
    """Before a search: refuse a results root that cannot be written (a file, under a file, not
    writable) or a ``name`` already taken, and remove staging folders of killed runs."""
    root = Path(root)
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag}: {root}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag}: {root}: cannot write in {probe}")
    if name and os.path.lexists(root / name):
        raise ConfigError(f"{flag}: {root / name} already exists (choose another --name)")
    if root.is_dir():
        clean_partials(root)


def clean_partials(root: Path, max_age: float = PARTIAL_MAX_AGE) -> list[Path]:
    """Remove the staging folders under ``root`` that no live process holds; one without a lock
    file (an older wsbench's) only once it is ``max_age`` seconds old. What was removed."""
    removed = []
    for stage in sorted(Path(root).glob(".*.partial")):
        lock_path = stage.with_name(stage.name + ".lock")
        try:
            if not lock_path.exists() and time.time() - stage.stat().st_mtime < max_age:
                continue
        except FileNotFoundError:  # published or removed meanwhile
            continue
        lock = locking.take(lock_path)
        if lock is None:  # its run is still writing
            continue
        with lock:
            shutil.rmtree(stage, ignore_errors=True)
        removed.append(stage)
    return removed
