"""What the GPU run's steps share: the plan, the clock, child processes and what goes to $OUT.

Standard library only: this runs before wsbench is installed on the GPU machine. Anything that
needs wsbench runs in a child process, under a timeout, with its output in a log file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WSBENCH = "import sys; from wsbench.cli import main; sys.exit(main())"
SMALL_FILE = 4 << 20  # results.tar.gz leaves out anything bigger (figures, stray checkpoints)
RETURNED = 15 << 20  # a file back from the GPU machine may have 16 MiB


@dataclass
class Plan:
    """Everything a step needs to know; made once from the command line."""

    out: Path
    work: Path
    wheels: Path
    data: Path | None
    device: str
    tiny: bool
    epochs: int
    batch_size: int
    lr: float
    seeds: int
    part_bytes: int
    python: str = sys.executable
    statuses: dict = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.work / "results"

    def env(self) -> dict[str, str]:
        """The children's environment: the run's own cache, the data, unbuffered output."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("WSBENCH_CACHE", str(self.work / "cache"))
        if self.data is not None:
            env["WSBENCH_CIFAR10"] = str(self.data)
        return env

    def wsbench(self, *args: str) -> list[str]:
        """The ``wsbench`` command line, run by this Python (no reliance on PATH)."""
        return [self.python, "-c", WSBENCH, *args]


class Clock:
    """Seconds left of the run's budget; each step's timeout is cut to it."""

    def __init__(self, budget: float, reserve: float = 15.0) -> None:
        self.start, self.budget, self.reserve = time.monotonic(), budget, reserve

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        """What a step may still use: the budget less the time kept to write $OUT."""
        return self.budget - self.reserve - self.elapsed()


def call(cmd: list[str], log: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``cmd`` with its output appended to ``log``; "ok", "failed (rc N)" or "timeout".

    The child gets its own process group, so a timeout ends it and whatever it started."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if timeout <= 1:
        return "timeout"
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        # its own process group (so a timeout ends what it started) but this session (so a
        # machine that ends the session's processes when the command returns ends it too)
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                process_group=0)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            fh.write(f"\n[timed out after {timeout:.0f} s]\n")
            return "timeout"
        except BaseException:  # SIGTERM (see run.py) or ^C: take the child down too
            _stop(proc)
            raise
    return "ok" if rc == 0 else f"failed (rc {rc})"


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the child's group, SIGKILL if it is still there 10 s later."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, for the console (the whole log is in results.tar.gz)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def atomic_write(path: Path, data: bytes) -> None:
    """Write beside, then rename: a run killed mid-write leaves the previous file whole.

    Not wsbench.files.cache.atomic_write_bytes: the driver must report its status even when the
    install step failed and wsbench cannot be imported."""
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def publish(plan: Plan, clock: Clock) -> None:
    """$OUT/status.json and $OUT/results.tar.gz as they stand now (after every step)."""
    status = {"elapsed_seconds": round(clock.elapsed(), 1), "tiny": plan.tiny,
              "device": plan.device, "steps": plan.statuses}
    atomic_write(plan.out / "status.json", json.dumps(status, indent=2).encode())
    plan.results.mkdir(parents=True, exist_ok=True)
    tmp = plan.out / "results.tar.gz.tmp"
    for keep_trials in (True, False):  # the trial records (every evaluation) go first if too big
        def small(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            bulky = not keep_trials and ("/trials/" in info.name or "/runs/" in info.name)
            return None if info.size > SMALL_FILE or bulky else info

        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(plan.results, arcname="results", filter=small)
        if tmp.stat().st_size <= RETURNED:
            break
    os.replace(tmp, plan.out / "results.tar.gz")
