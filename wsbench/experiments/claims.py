"""Which process runs which trial when several ``wsbench run`` share one results folder.

A process claims a trial by locking ``locks/<trial key>.lock`` (:mod:`wsbench.experiments.locking`) for as
long as it works on it. A trial locked by another live process is *taken*: it is skipped and
waited for at the end. A trial whose record changed since this run looked at the folder was
written by another process (finished, skipped or failed there) and is not run again here, so
each trial is done once however many processes share the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wsbench.experiments import locking
from wsbench.experiments.store import ResultsStore

if TYPE_CHECKING:
    from wsbench.experiments.experiment import Trial


class Claims:
    """Trial locks of one results folder, and what this process saw of the others."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.store = ResultsStore(self.out)  # the folder's layout
        self.stamps = {p.name: _stamp(p) for p in (self.out / "trials").glob("*.json")}
        self.taken: list["Trial"] = []   # locked by another process when this one came to them
        self.elsewhere: list[str] = []   # ids of trials another process wrote during this run

    def lock_path(self, key: str) -> Path:
        return self.store.lock_path(key)

    def free(self, trial: "Trial") -> bool:
        """Whether no other process holds ``trial`` now (else it is noted as taken)."""
        if locking.is_free(self.lock_path(trial.key)):
            return True
        self.taken.append(trial)
        return False

    def claim(self, trial: "Trial") -> locking.Lock | None:
        """The trial's lock when this process should run it; None when it is taken or another
        process has written its record since this run started."""
        lock = locking.take(self.lock_path(trial.key))
        if lock is None:
            self.taken.append(trial)
        elif self.written_elsewhere(trial):
            lock.release()
            lock = None
        return lock

    def written_elsewhere(self, trial: "Trial") -> bool:
        path = self.store.trial_path(trial.id)
        if path.exists() and _stamp(path) != self.stamps.get(path.name):
            if trial.id not in self.elsewhere:
                self.elsewhere.append(trial.id)
            return True
        return False

    def wait_for_taken(self) -> list["Trial"]:
        """Wait until the other processes release the taken trials; those they did not write
        (their process stopped first) are returned, to be run here."""
        left = []
        for trial in self.taken:
            locking.take(self.lock_path(trial.key), wait=True).release()
            if not self.written_elsewhere(trial):
                left.append(trial)
        self.taken = []
        return left


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size
