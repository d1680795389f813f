"""Peak memory of ``wsbench decompress`` on small crafted files (issue 13, class 3): under
100 MB above the interpreter's baseline, whatever sizes the header claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from wsb_files import build, parts

import wsbench

DATA = Path(__file__).parent / "data"
LIMIT_MIB = 100


def _claim(n: int, n_bits: int | None = None):
    def edit(h):
        h["n_weights"], h["shared"] = n, [["0.weight", [n // 10_000, 10_000], "float32"]]
        if n_bits is not None:
            h["n_bits"] = n_bits
    return edit


def crafted_files(folder: Path) -> dict[str, Path]:
    """Files under 10 kB whose headers claim 2e8 or 1e12 weights (checksums made to match), and
    the largest valid model that fits in 10 kB (1 bit per weight) as the control."""
    specs = {"huffman-2e8": ("v1-huffman.wsb", "1", _claim(200_000_000)),
             "huffman-2e8-v3": ("v1-huffman.wsb", "3", _claim(200_000_000)),
             "huffman-1e12": ("v1-huffman.wsb", "1", _claim(10**12, 10**12)),
             "fixed-2e8": ("v1-fixed.wsb", "1", _claim(200_000_000, 400_000_000)),
             "fixed-1e12": ("v1-fixed.wsb", "3", _claim(10**12, 2 * 10**12)),
             "layer-1e12": ("v2-huffman-layer.wsb", "2", _claim(10**12, 10**12))}
    out = {}
    for name, (source, version, edit) in specs.items():
        meta, header, tensors = parts((DATA / source).read_bytes())
        edit(header)
        out[name] = folder / f"{name}.wsb"
        out[name].write_bytes(build({**meta, "version": version}, header, tensors))
    model = nn.Linear(250, 240, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.randint(0, 2, model.weight.shape) * 2.0 - 1)
    out["valid-60k-weights"] = wsbench.compress_model(model, 2).save(folder / "valid.wsb")
    return out


@pytest.mark.slow
def test_decompress_peak_memory_on_small_crafted_files(tmp_path):
    files = crafted_files(tmp_path)
    assert all(p.stat().st_size < 10_000 for p in files.values())
    argv = [sys.executable, "-m", "wsbench_perf.decompress_memory", str(DATA / "v1-huffman.wsb"),
            *map(str, files.values())]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()][1:]
    by_name = dict(zip(files, rows))
    for name, row in by_name.items():
        print(name, row["bytes"], "bytes:", row["peak_above_baseline_mib"], "MiB above baseline")
        assert row["peak_above_baseline_mib"] < LIMIT_MIB, (name, row)
        assert row["exit"] == (0 if name.startswith("valid") else 2), (name, row)
        assert "Traceback" not in row["stderr"]
