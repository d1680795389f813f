"""Reading a user-named file without hanging on a FIFO or filling memory from a device.

``Path.read_bytes`` blocks forever on a FIFO, never ends on ``/dev/zero`` and happily reads a
file far larger than anything wsbench writes. Every user file is therefore opened without
blocking, checked to be a regular file, and read only up to a cap (``WSBENCH_MAX_FILE_BYTES``,
default 4 GiB) that is checked before a byte is read. What a compressed file may decode to is
capped by its size too (``WSBENCH_MAX_VALUES_PER_BYTE``, :func:`max_values_per_byte`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from wsbench.errors import WsbenchError

MAX_FILE_BYTES_ENV = "WSBENCH_MAX_FILE_BYTES"
DEFAULT_MAX_FILE_BYTES = 4 << 30


def max_file_bytes() -> int:
    """The size cap for one input file: ``$WSBENCH_MAX_FILE_BYTES`` or 4 GiB."""
    raw = os.environ.get(MAX_FILE_BYTES_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_MAX_FILE_BYTES
    except ValueError:
        return DEFAULT_MAX_FILE_BYTES


MAX_VALUES_PER_BYTE_ENV = "WSBENCH_MAX_VALUES_PER_BYTE"
DEFAULT_MAX_VALUES_PER_BYTE = 16


def max_values_per_byte() -> int:
    """How many decoded values one byte of a compressed file may stand for (beyond a fixed
    allowance, :func:`wsbench.codec.fileformat_checks.max_values`): ``$WSBENCH_MAX_VALUES_PER_BYTE``
    or 16, i.e. 0.5 bits per value. Why: a few hundred bytes of NNC or adaptive coding can stand
    for tens of millions of zeros, which take memory to hold and, coded adaptively, ~0.5 us each
    to decode; real models take 2-5 values per byte of file."""
    raw = os.environ.get(MAX_VALUES_PER_BYTE_ENV, "")
    try:
        return max(0, int(raw)) if raw else DEFAULT_MAX_VALUES_PER_BYTE
    except ValueError:
        return DEFAULT_MAX_VALUES_PER_BYTE


def read_regular_file(path: str | Path, error: type[WsbenchError], what: str = "file",
                      limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is one ``error``."""
    path = Path(path)
    limit = max_file_bytes() if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{path}: cannot read {what} (no such file)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise error(f"{path}: not a regular file (a {what} must be one, not a folder, "
                    f"FIFO or device)")
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if st.st_size > limit:
            raise error(f"{path}: {st.st_size:,} bytes is larger than the {limit:,}-byte cap "
                        f"for a {what} (raise ${MAX_FILE_BYTES_ENV} to read it)")
        try:
            data = fh.read(st.st_size + 1)  # sized by the file, not the cap (read allocates it)
        except OSError as exc:
            raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    if len(data) != st.st_size:
        raise error(f"{path}: the {what} changed while it was read")
    return data
