"""Advisory file locks, so that two processes never work on one trial or one output at once.

A lock is ``fcntl.flock`` on a small file: the kernel drops it when its process exits or is
killed, so a crashed run never leaves anything locked and no pid has to be trusted (pids are
reused). The file holds pid, host and time only for people looking at a stuck folder. The
holder deletes the file on release; a taker checks after locking that the file it holds is
still the one at the path, so a lock deleted meanwhile is never taken twice.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from wsbench.errors import ConfigError
from wsbench.experiments.provenance import utc_now


class Lock:
    """A held lock; :meth:`release` (or the end of the process) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            os.unlink(self.path)  # while still holding it: no one can take the old file
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = -1

    def __enter__(self) -> "Lock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def take(path: str | Path, wait: bool = False) -> Lock | None:
    """Lock ``path`` (created if needed); None when another process holds it and not ``wait``."""
    path = Path(path)
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} host {socket.gethostname()} since {utc_now()}\n".encode())
            return Lock(path, fd)
        os.close(fd)  # its holder released and deleted it while we waited: take the new one


def _open(path: Path) -> int:
    """The lock file's descriptor, created with its folder if needed; a folder (or a file in
    place of the folder) where it belongs is one error line, not an IsADirectoryError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
        raise ConfigError(f"{path}: cannot be a lock file ({exc.strerror}: {exc.filename}); "
                          f"remove what is in its place and run again") from None


def is_free(path: str | Path) -> bool:
    """Whether no live process holds ``path`` (a file that is not there is free)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
