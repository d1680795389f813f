"""Progress for logs: one plain line per finished trial when the output is not a terminal.

tqdm redraws its bars with carriage returns and cursor moves, which a log file (CI, ``nohup``,
a cluster job) keeps as escape codes, and nested bars multiply them. Without a terminal a run
prints instead one line per finished trial, with the count and the time since the start.
"""

from __future__ import annotations

import sys
import time
from typing import IO


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: stderr, where bars go) is a terminal."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


class PlainProgress:
    """The part of tqdm's interface a run uses (``update``, a context manager), as lines."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "trial",
                 stream: IO[str] | None = None) -> None:
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()

    def __enter__(self) -> "PlainProgress":
        if self.n:
            self._line("already done")
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.n += n
        self._line("done")

    def _line(self, what: str) -> None:
        s = int(time.perf_counter() - self.start)
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}s {what} "
              f"({s // 60}m{s % 60:02d}s)", file=self.stream, flush=True)
