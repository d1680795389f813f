"""Decoder bombs (issue 29): each class crafted, decoded by ``wsbench decompress`` in a fresh
process, with its peak RSS above the imports (torch, wsbench, the decoders' libraries) and its
seconds. Run ``python benchmarks/perf/decode_bombs.py [--only NAME] [--timeout S]``; PYTHONPATH
picks the wsbench under test (e.g. the tree before a fix, for its numbers).

Why a benchmark and not a timed test: speed and memory are measured by what prints numbers. The
files are crafted with nothing but safetensors, zlib, constriction and the tested wsbench's own
``fileformat.checksum``, so they are the same files for any version; none carries the metadata
checksum a newer writer adds (a crafted file need not), except ``header-bomb-stored-mismatch``.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

CHILD = r"""
import contextlib, io, json, sys, time
from pathlib import Path
import bitarray, constriction, numpy, safetensors.torch, torch  # the decoders' libraries
import wsbench.cli, wsbench.codec.compress
try:
    import nncodec.nnc, wsbench_plugins.nncodec_space  # noqa: F401 (when the extra is installed)
except Exception:
    pass
def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
Path("/proc/self/clear_refs").write_text("5")
base, err, start = kib("VmRSS"), io.StringIO(), time.perf_counter()
try:
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = wsbench.cli.main(["decompress", sys.argv[1], "-o", sys.argv[2]])
except BaseException as exc:
    code = f"{type(exc).__name__} (uncaught)"
    err.write(f"{type(exc).__name__}: {exc}")
seconds = time.perf_counter() - start
lines = err.getvalue().strip().splitlines()
print(json.dumps({"exit": code, "seconds": round(seconds, 2), "peak_mb": round((kib("VmHWM") - base) / 1024, 1),
                  "baseline_mb": round(base / 1024, 1), "says": (lines[-1] if lines else "")[:150]}))
"""

ONE = 1 << 16  # the adaptive coder's probability scale (wsbench.codec.adaptive)


def _file(version: int, header: dict, tensors: dict) -> bytes:
    """A compressed file with the content checksum the tested wsbench computes."""
    from safetensors.torch import save

    from wsbench.codec.fileformat import FORMAT, checksum

    header = {**header, "sha256": checksum(tensors, header, version)}
    text = json.dumps(header, separators=(",", ":"))
    meta = {"header_z": base64.b85encode(zlib.compress(text.encode(), 9)).decode()} if version >= 5 \
        else {"header": text}
    return save(tensors, metadata={"format": FORMAT, "version": str(version), **meta})


def _header(coding: str, shape: list[int], n_bits: int, d: int, **fields) -> dict:
    return {"coding": coding, "n_weights": int(np.prod(shape)), "n_bits": n_bits, "k": d, "d": d,
            "quantizer": "uniform", "include": "conv-linear", "shared": [["w", shape, "float32"]],
            "rest": [], "extra": {}, **fields}


def header_bomb(mismatch: bool, stored: bool = False) -> bytes:
    """A version-5 header that expands to ~60 MiB of JSON (21M empty lists) in ~90 kB. Its
    checksum is computed on the text (as fileformat.checksum hashes a file of one 1-byte
    tensor and this header), so crafting it never parses it."""
    import hashlib

    import torch
    from safetensors.torch import save

    from wsbench.codec.fileformat import FORMAT, MAX_HEADER

    n = (MAX_HEADER - 4096) // 3
    header = _header("native", [4], 8, 1, codec="nncodec", native={}, native_rest=[],
                     extra={"pad": "PAD"})
    h = hashlib.sha256(json.dumps(["bitstream", "torch.uint8", [1]]).encode() + b"\0")
    h.update(json.dumps(header, sort_keys=True).replace('"PAD"', "[" + "[], " * (n - 1) + "[]]").encode())
    text = json.dumps({**header, "sha256": "0" * 64 if mismatch else h.hexdigest()},
                      separators=(",", ":")).replace('"PAD"', "[" + "[]," * (n - 1) + "[]]")
    meta = {"format": FORMAT, "version": "5",
            "header_z": base64.b85encode(zlib.compress(text.encode(), 9)).decode()}
    return save({"bitstream": torch.zeros(1, dtype=torch.uint8)},
                metadata={**meta, **({"sha256": "0" * 64} if stored else {})})


def _adaptive_stream(cycle: list[int], n_levels: int) -> bytes:
    """The range coder's words for ``cycle`` repeated to ``n_levels`` levels: the first 4,096
    cycles through wsbench's own encoder, the rest tiled from the last of them (by then the
    contexts repeat from cycle to cycle, checked), a million decisions at a time."""
    import constriction

    from wsbench.codec import adaptive

    c = len(cycle)
    head = min(n_levels, 4096 * c)
    enc, prev, marks = adaptive._Encoder(), 0, [0, 0]
    for i in range(head):
        if i >= head - 2 * c and i % c == 0:
            marks.append(len(enc.bits))
        prev = adaptive._level(enc, cycle[i % c], prev, 64)
    last = marks[-1]
    if n_levels > head and enc.probs[marks[-2]:last] != enc.probs[last:]:
        raise RuntimeError(f"the contexts of cycle {cycle} do not repeat after {head} levels")
    coder = constriction.stream.queue.RangeEncoder()
    family = constriction.stream.model.Categorical(perfect=False)

    def put(b: list[int], p: list[int]) -> None:
        q = np.asarray(p, dtype=np.int64)
        coder.encode(np.asarray(b, dtype=np.int32), family,
                     np.stack([(ONE - q) * 256 - 1, q * 256 - 1], axis=1).astype(np.float64))

    put(enc.bits, enc.probs)
    bits, probs = enc.bits[last:], enc.probs[last:]
    left = (n_levels - head) // c  # whole cycles (n_levels a multiple of c)
    while left > 0:
        k = min(max(1, 1_000_000 // len(bits)), left)
        put(bits * k, probs * k)
        left -= k
    return coder.get_compressed().astype("<u4").tobytes()


def adaptive_bomb(cycle: list[int], n_levels: int) -> bytes:
    """A consistent ``adaptive`` file of ``n_levels`` indices (a codebook of 3, zero bin 1)."""
    import torch

    from wsbench.codec import adaptive

    data = _adaptive_stream(cycle, n_levels)
    header = _header("adaptive", [n_levels], 8 * len(data), 3, adaptive={"zero": 1, **adaptive.params()})
    return _file(4, header, {"codebook": torch.tensor([-1.0, 0.0, 1.0]),
                             "bitstream": torch.frombuffer(bytearray(data), dtype=torch.uint8)})
def native_bomb(header_shape: list[int], payload_shape: tuple[int, ...]) -> bytes:
    """A ``native`` NNC file: its header declares ``header_shape``, its NNC payload codes zeros
    of ``payload_shape`` (33.5M zeros take 44 bytes: a zero row costs one flag)."""
    import torch
    from wsbench_plugins import nncodec_adapter

    payload = nncodec_adapter.encode({"w": np.zeros(payload_shape, np.float32)}, -38, weights=["w"])
    header = _header("native", header_shape, 8 * len(payload), 1, codec="nncodec",
                     native={"qp": -38, "use_dq": True}, native_rest=[])
    return _file(5, header, {"bitstream": torch.frombuffer(bytearray(payload), dtype=torch.uint8)})


def _small_model_file(coding: str = "huffman") -> tuple[dict, dict]:
    import torch

    import wsbench
    from wsbench.codec.fileformat import _container, _header

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    meta, tensors = _container(wsbench.compress_model(model, 16, coding=coding).to_bytes())
    return _header(meta)[1], tensors


def nan_codebook() -> bytes:
    """A consistent file (checksum recomputed) whose codebook is NaN and whose bias holds inf."""
    header, tensors = _small_model_file()
    tensors["codebook"].fill_(float("nan"))
    tensors["rest.0.bias"][0] = float("inf")
    return _file(3, {k: v for k, v in header.items() if k != "sha256"}, tensors)


def not_a_codec() -> bytes:
    """A ``native`` file naming a space that exists but is not a codec."""
    import torch

    header = _header("native", [4], 8, 1, codec="k", native={}, native_rest=[])
    return _file(5, header, {"bitstream": torch.zeros(1, dtype=torch.uint8)})


def cases(nncodec: bool) -> dict:
    """name -> (what the issue or this benchmark says it is, a function crafting its bytes)."""
    out = {
        "header-bomb-mismatch": ("93 kB-class header that expands to ~60 MiB, checksum wrong",
                                 lambda: header_bomb(True)),
        "header-bomb-stored-mismatch": ("the same with a wrong metadata checksum (a newer writer's)",
                                        lambda: header_bomb(True, stored=True)),
        "header-bomb-consistent": ("the same with the checksum recomputed",
                                   lambda: header_bomb(False)),
        "adaptive-100M-zeros": ("279 kB-class adaptive file declaring 100M weights",
                                lambda: adaptive_bomb([0], 100_000_000)),
        "adaptive-20M-alternating": ("115 kB-class adaptive file, levels 0,1,0,1,...",
                                     lambda: adaptive_bomb([0, 1], 20_000_000)),
        "adaptive-4.35M-zeros": ("adaptive zeros just under the values cap (4M + 16 a byte)",
                                 lambda: adaptive_bomb([0], 4_350_000)),
        "adaptive-4.8M-cycle": ("adaptive levels 1,-1,1,-1,... just under the cap",
                                lambda: adaptive_bomb([1, -1], 4_800_000)),
        "adaptive-sparse-6.6M": ("adaptive 1 then 40 zeros, ...: never saturated, just under "
                                 "the cap", lambda: adaptive_bomb([1] + [0] * 40, 6_599_975)),
        "adaptive-4.5M-mixed": ("adaptive 1,-1,0,... (a context never saturates): 400 kB decoded "
                                "one decision at a time", lambda: adaptive_bomb([1, -1, 0], 4_500_000)),
        "nan-inf-values": ("codebook NaN and a bias inf, checksum recomputed", nan_codebook),
        "not-a-codec": ("native header naming space 'k' (the K search space)", not_a_codec),
    }
    if nncodec:
        out["native-33M"] = ("488 B-class native file, header and payload 33.5M weights",
                             lambda: native_bomb([1024, 32768], (1024, 32768)))
        out["native-payload-33M"] = ("native header of 4,096 weights, NNC payload of 33.5M",
                                     lambda: native_bomb([64, 64], (1024, 32768)))
        out["native-4.2M"] = ("native file of 4.2M zeros, just under the cap (decoded)",
                              lambda: native_bomb([1024, 4096], (1024, 4096)))
    return out


def run_case(path: Path, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # -P and another folder: the child imports the wsbench PYTHONPATH names, not ./wsbench
            proc = subprocess.run([sys.executable, "-P", "-c", CHILD, str(path), str(Path(tmp) / "out.pt")],
                                  capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"exit": "timeout", "seconds": f">{timeout:g}", "peak_mb": "?", "says": ""}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return {"exit": f"child died ({proc.returncode})", "seconds": "?", "peak_mb": "?",
                "says": proc.stderr.strip().splitlines()[-1][:150] if proc.stderr.strip() else ""}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run this case only (repeatable)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    parser.add_argument("--files", type=Path, help="keep crafted files here (reused when present)")
    args = parser.parse_args(argv)
    try:
        from wsbench_plugins import nncodec_adapter
        has_nncodec = nncodec_adapter.available()
    except ImportError:
        has_nncodec = False
    folder = args.files or Path(tempfile.mkdtemp(prefix="decode-bombs-"))
    folder.mkdir(parents=True, exist_ok=True)
    import wsbench
    print(f"wsbench from {Path(wsbench.__file__).parent}; nncodec: {has_nncodec}")
    print(f"{'case':28} {'bytes':>9} {'exit':>6} {'seconds':>8} {'peak MB':>8}  says")
    for name, (what, craft) in cases(has_nncodec).items():
        if args.only and name not in args.only:
            continue
        path = folder / f"{name}.wsb"
        if not path.exists():
            path.write_bytes(craft())
        row = run_case(path, args.timeout)
        print(f"{name:28} {path.stat().st_size:>9,} {str(row['exit']):>6} {str(row['seconds']):>8} "
              f"{str(row['peak_mb']):>8}  {row['says']}", flush=True)
    print("(peak MB: RSS high-water mark above the process after its imports; exit 2: one error line)")


if __name__ == "__main__":
    main()
