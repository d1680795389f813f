"""Screened objectives of fixed K values under this process's threads, dtype and kernels.

    python benchmarks/screened_scores.py THREADS DTYPE FIDELITY K,K,...
    ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default python benchmarks/screened_scores.py ...

Prints one JSON line: the settings, the seconds taken, and per K the screened f1 = 1 - F1, d
and a digest of the codebook, on cifar10-resnet20's screening subset. Run it under different
thread counts, dtypes or kernel limits and compare the lines: RESULTS.md section 2 used it to
see whether a screened search can be reproduced elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np


def main(argv: list[str]) -> int:
    import torch

    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.trial import build_harness

    threads, dtype, fidelity, ks = int(argv[0]), argv[1], float(argv[2]), argv[3]
    torch.set_num_threads(threads)
    h = build_harness(CompressConfig(task="cifar10-resnet20", fidelity=fidelity,
                                     screen_dtype=dtype).trial(), progress=False)
    out, t0 = {}, time.perf_counter()
    for k in (int(v) for v in ks.split(",")):
        q = h.quantization(np.array([float(k)]))
        f = h.evaluate(np.array([[float(k)]]))[0]
        out[k] = (float(f[0]), int(f[1]), hashlib.sha256(q.codebook.numpy().tobytes()).hexdigest()[:16])
    env = {k: os.environ.get(k) for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    print(json.dumps({"threads": threads, "dtype": dtype, "fidelity": fidelity, "env": env,
                      "seconds": time.perf_counter() - t0, "F": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
