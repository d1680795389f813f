"""Section 5: wall time of ``wsbench compress`` on the default task, in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from .common import Report, timed

S5 = "5 end to end"


def _compress(*extra: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "wsbench.cli", "compress", "--no-progress", "--out", out,
               *extra]
        t, _ = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, check=True))
    return t


def run(report: Report, quick: bool) -> None:
    from .harness import digits_data

    digits_data()  # the trained model is cached first: its training is not the pipeline's cost
    if quick:
        t = _compress("--budget", "100", "--max-requested", "1000")
        report.add(S5, "wsbench compress (budget 100, 1,000 requests)", t, "s",
                   "--quick: reduced search, process start included")
        report.goal(S5, "wsbench compress on the default task under 60 s", "not run under --quick",
                    None)
        return
    t = _compress()
    report.add(S5, "wsbench compress, default task and settings", t, "s",
               "fresh process (imports included), trained model cached")
    report.goal(S5, "wsbench compress on the default task under 60 s", f"{t:.1f} s", t < 60)
    t_lo = _compress("--fidelity", "0.25")
    report.add(S5, "wsbench compress --fidelity 0.25", t_lo, "s", f"{t_lo / t:.2f}x the default")
