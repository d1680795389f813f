"""Peak memory of ``wsbench decompress`` per file, run as
``python -m wsbench_perf.decompress_memory WARMUP.wsb FILE...`` (prints one JSON line per file).

Why: a small crafted file must not make the reader allocate what its header claims (issue 13
measured 2 GB for a 1.2 kB file). The baseline is the interpreter after its imports and one
decompress of ``WARMUP.wsb`` (so lazily imported libraries are not counted); before each file
the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``) and the new peak (``VmHWM``) is
read after ``wsbench decompress`` returns, whatever its exit status.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

from wsbench_perf.memprobe import _status_kib


def peak_above_baseline(argv: list[str]) -> tuple[int, int, str]:
    """Run the CLI once; (exit status, peak RSS above the RSS before it in KiB, stderr)."""
    from wsbench.cli import main

    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
    before = _status_kib("VmRSS")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, _status_kib("VmHWM") - before, err.getvalue().strip()


def run(warmup: str, files: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.pt")
        code, _, err = peak_above_baseline(["decompress", warmup, "-o", out])
        if code != 0:
            raise SystemExit(f"warm-up file failed: {err}")
        rows: list[dict] = [{"baseline_rss_mib": round(_status_kib("VmRSS") / 1024, 1)}]
        for f in files:
            code, kib, err = peak_above_baseline(["decompress", f, "-o", out])
            rows.append({"file": f, "bytes": Path(f).stat().st_size, "exit": code,
                         "peak_above_baseline_mib": round(kib / 1024, 2), "stderr": err})
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run(sys.argv[1], sys.argv[2:]):
        print(json.dumps(row))
