"""Peak memory of compressing a ResNet-18-sized model, run as ``python -m wsbench_perf.memprobe``.

A fresh process, so the figure is not blurred by what a parent allocated before: after the
imports and the model exist, the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``),
then ``compress_model`` + ``save`` run and the new peak is read (``VmHWM``). torch allocations
are invisible to tracemalloc, which is why RSS is used.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main(k: int = 256) -> dict:
    import bitarray  # noqa: F401  - imported before the baseline: not part of compressing
    import safetensors.torch  # noqa: F401
    import torch
    from wsbench_plugins.cifar.models import cifar_resnet18

    from wsbench.codec.compress import compress_model

    torch.manual_seed(0)
    model = cifar_resnet18().eval()
    fp32 = sum(p.numel() * 4 for p in model.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            reset = True
        except OSError:
            reset = False
        base = _status_kib("VmRSS") if reset else _status_kib("VmHWM")
        start = time.perf_counter()
        cm = compress_model(model, k)
        path = cm.save(Path(tmp) / "resnet18.wsb")
        seconds = time.perf_counter() - start
        peak = _status_kib("VmHWM")
        size = path.stat().st_size
    return {"fp32_bytes": fp32, "peak_delta_bytes": (peak - base) * 1024, "seconds": seconds,
            "file_bytes": size, "hwm_reset": reset, "shared_weights": cm.n_weights}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 256)))
