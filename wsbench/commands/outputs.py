"""Where a command may write: checked before any work, so a bad path costs seconds, not a run.

An output must never replace an input (``wsbench decompress model.pt`` would write model.pt over
itself with the default name), a folder, a device or any other file that is not a regular one
(an atomic rename would put a regular file in place of ``/dev/full``), and its folder must exist.
A folder output (``report --out``, ``train --out``) must not be an existing file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from wsbench.errors import ConfigError


def output_file(path: Path, flag: str, inputs: Iterable[Path] = ()) -> Path:
    """``path`` if a file may be written there; one ConfigError naming ``flag`` otherwise."""
    for src in inputs:  # the same path, or another name of the same file
        if path.resolve() == src.resolve() or (
                path.exists() and src.exists() and os.path.samefile(path, src)):
            raise ConfigError(f"{flag}: {path} is the input file; name another output "
                              f"(nothing was written)")
    if path.is_dir():
        raise ConfigError(f"{flag}: {path} is a folder; name a file in it")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag}: {path} is not a regular file (a device, a pipe or a socket); "
                          f"name a regular file")
    if not path.parent.is_dir():
        raise ConfigError(f"{flag}: the folder {path.parent} does not exist")
    return path


def output_folder(path: Path, flag: str) -> Path:
    """``path`` if a folder may be written there (made if missing); one ConfigError otherwise."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag}: {path} exists and is not a folder")
    parent = next((p for p in path.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise ConfigError(f"{flag}: {parent} is not a folder")
    return path
