"""What every run writes next to its results so it can be reproduced."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

PACKAGES = ("wsbench", "torch", "torchvision", "numpy", "pymoo", "cma", "pyswarms", "pluggy",
            "pandas", "matplotlib", "scikit-learn", "bitarray", "safetensors")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: str | Path | None = None) -> dict[str, object]:
    """Commit and dirty flag of the checkout that holds wsbench (None outside a checkout)."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "-C", str(where), "status", "--porcelain"],
                                    capture_output=True, text=True, timeout=5).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty if commit else None}


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` line of /proc/cpuinfo (Linux), without its name; None elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's marketing name where Linux reports it (platform.processor() often says x86_64)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


NUMERIC_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_flags() -> list[str]:
    """The CPU features that decide which kernels (and so which rounding) torch uses: bf16
    autocast is native with AMX or AVX512-BF16 and emulated (about 40x slower) without."""
    have = set((_cpuinfo("flags") or "").split())
    return [f for f in NUMERIC_FLAGS if f in have]


NUMERIC_ENV = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS",
               "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "CUBLAS_WORKSPACE_CONFIG")


def machine() -> dict[str, object]:
    info: dict[str, object] = {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(), "cpu_flags": cpu_flags(), "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
        # variables that pick other kernels, so other rounding (section 4 of RESULTS.md)
        "numeric_env": {k: os.environ[k] for k in NUMERIC_ENV if k in os.environ},
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


def utc_now() -> str:
    """The current UTC time to the second, as every record of when something ran writes it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_info(config: dict, seed: int) -> dict[str, object]:
    return {
        "config": config, "seed": seed, "versions": versions(), "git": git_commit(),
        "machine": machine(), "command": sys.argv,
        "started": utc_now(),
    }
