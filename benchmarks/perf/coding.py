"""Section 3: Huffman coding, compressed-file save/load, and peak memory of compressing."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .common import Report, best_of, timed

S3 = "3 entropy coding and file I/O"
N = 11_200_000
K = 256


def _resnet18_like_indices() -> tuple[np.ndarray, int]:
    """Uniform K=256 indices of 11.2M Gaussian weights: the index statistics of a trained net."""
    import torch

    from wsbench import plugins

    w = torch.randn(N, generator=torch.Generator().manual_seed(0)) * 0.05
    q = plugins.create("quantizer", "uniform").quantize(w, K)
    return q.indices.numpy(), q.d


def run(report: Report, quick: bool) -> None:
    import torch
    from wsbench_plugins.cifar.models import cifar_resnet18

    from wsbench.codec import huffman
    from wsbench.codec.compress import compress_model, load_state_dict

    idx, d = _resnet18_like_indices()
    table = huffman.build_table(np.bincount(idx, minlength=d))
    reps = 1 if quick else 3
    t_enc = best_of(lambda: huffman.encode(idx, table), reps)
    data, n_bits = huffman.encode(idx, table)
    t_dec, out = timed(lambda: huffman.decode(data, n_bits, idx.size, table))
    if not quick:
        t_dec = min(t_dec, best_of(lambda: huffman.decode(data, n_bits, idx.size, table), 2))
    assert np.array_equal(out, idx)
    report.add(S3, "Huffman encode, 11.2M indices", t_enc, "s",
               f"{idx.size / t_enc / 1e6:.1f} M indices/s, "
               f"{n_bits / idx.size:.2f} bits/index, d={d}")
    report.add(S3, "Huffman decode, 11.2M indices", t_dec, "s",
               f"{idx.size / t_dec / 1e6:.1f} M indices/s")

    torch.manual_seed(0)
    model = cifar_resnet18().eval()
    with tempfile.TemporaryDirectory() as tmp:
        t_comp, cm = timed(lambda: compress_model(model, K))
        t_save, path = timed(lambda: cm.save(Path(tmp) / "resnet18.wsb"))  # encodes, then writes
        t_load, state = timed(lambda: load_state_dict(path))
        size = path.stat().st_size
        layered = compress_model(model, K, coding="huffman-layer")
        t_lsave, lpath = timed(lambda: layered.save(Path(tmp) / "resnet18-layer.wsb"))
        t_lload, lstate = timed(lambda: load_state_dict(lpath))
        lsize = lpath.stat().st_size
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], lstate[k]) for k in state)  # lossless: the same model
    report.add(S3, "save, per-tensor Huffman tables (huffman-layer)", t_lsave, "s",
               f"{lsize / 1e6:.2f} MB file, {lsize / size:.4f}x the shared-table file "
               f"(random init: every layer has its own scale)")
    report.add(S3, "load, per-tensor Huffman tables", t_lload, "s")
    report.add(S3, "compress_model (quantize), ResNet-18 size", t_comp, "s",
               f"{cm.n_weights:,} shared weights, K={K}")
    report.add(S3, "save (Huffman encode + serialise + write)", t_save, "s",
               f"{size / 1e6:.2f} MB file")
    report.add(S3, "load (read + verify + decode + assemble)", t_load, "s")
    for what, t in (("Huffman encode", t_enc), ("Huffman decode", t_dec), ("save", t_save),
                    ("load", t_load), ("per-tensor save", t_lsave), ("per-tensor load", t_lload)):
        report.goal(S3, f"{what} of 11.2M weights under 1 s", f"{t:.2f} s", t < 1.0)

    probe = subprocess.run([sys.executable, "-m", f"{__package__}.memprobe", str(K)],
                           capture_output=True, text=True, check=True)
    mem = json.loads(probe.stdout.strip().splitlines()[-1])
    ratio = mem["peak_delta_bytes"] / mem["fp32_bytes"]
    how = "peak RSS (VmHWM reset after setup)" if mem["hwm_reset"] else "peak RSS since start"
    report.add(S3, "peak memory of compress + save, ResNet-18 size",
               mem["peak_delta_bytes"] / 2**20, "MiB",
               f"fresh subprocess, {how}; fp32 parameters {mem['fp32_bytes'] / 2**20:.1f} MiB")
    report.add(S3, "peak memory / fp32 model size", ratio, "x")
    report.goal(S3, "peak memory of compressing ResNet-18 size < 4x its fp32 size",
                f"{ratio:.2f}x", ratio < 4.0)
