"""Section 2: quantizer cost. ``uniform`` vs the ``kmeans`` plugin vs scikit-learn's KMeans."""

from __future__ import annotations

import json
import subprocess
import sys

from .common import Report, best_of

S2 = "2 quantizer cost"
K = 256
RESNET18 = 11_200_000

_SKLEARN = """
import json, sys, time
import numpy as np
from sklearn.cluster import KMeans
n, k, max_iter = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
w = np.random.default_rng(0).standard_normal(n).astype(np.float32).reshape(-1, 1) * 0.05
start = time.perf_counter()
km = KMeans(n_clusters=k, n_init=1, max_iter=max_iter, random_state=0).fit(w)
print(json.dumps({"seconds": time.perf_counter() - start, "n_iter": int(km.n_iter_)}))
"""


def sklearn_kmeans(n: int, k: int, max_iter: int, timeout: float) -> dict | None:
    """scikit-learn KMeans(n_clusters=k, n_init=1) in a subprocess (so a timeout can stop it)."""
    try:
        out = subprocess.run([sys.executable, "-c", _SKLEARN, str(n), str(k), str(max_iter)],
                             capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _weights(n: int):
    import torch

    return torch.randn(n, generator=torch.Generator().manual_seed(0)) * 0.05


def run(report: Report, quick: bool) -> None:
    from wsbench import plugins

    uniform = plugins.create("quantizer", "uniform")
    kmeans = plugins.create("quantizer", "kmeans")
    per_weight = {}
    for n, reps in ((1_000_000, 5), (RESNET18, 3), (50_000_000, 1 if quick else 2)):
        w = _weights(n)
        uniform.quantize(w, K)  # warm-up
        t = best_of(lambda: uniform.quantize(w, K), reps)
        per_weight[n] = t / n
        report.add(S2, f"uniform, N={n:,}", t * 1e3, "ms", f"{t / n * 1e9:.1f} ns/weight, K={K}")
        if n <= RESNET18:
            tk = best_of(lambda: kmeans.quantize(w, K), 1 if n > 1_000_000 else 2)
            report.add(S2, f"kmeans plugin, N={n:,}", tk * 1e3, "ms",
                       "Lloyd on a 200k subsample, every weight assigned")
        del w
    spread = max(per_weight.values()) / min(per_weight.values())
    report.add(S2, "uniform time per weight, max / min over N", spread, "x", "1 = exactly linear")
    report.goal(S2, "uniform is linear in N (time per weight within 2x over 1M..50M)",
                f"{spread:.2f}x spread", spread <= 2.0)

    # scikit-learn: full convergence is minutes; --quick caps the iterations (a lower bound)
    max_iter = 1 if quick else 300
    sk = sklearn_kmeans(1_000_000, K, max_iter, timeout=600)
    t1m = per_weight[1_000_000] * 1_000_000
    if sk is None:
        report.add(S2, "sklearn KMeans, N=1,000,000", "> 600 s")
        report.goal(S2, "uniform >= 100x faster than sklearn KMeans at 1M", "sklearn timed out",
                    True)
    else:
        cap = f", capped at {max_iter} iterations: a lower bound" if quick else ""
        report.add(S2, "sklearn KMeans, N=1,000,000", sk["seconds"] * 1e3, "ms",
                   f"n_init=1, k-means++, {sk['n_iter']} iterations{cap}")
        ratio = sk["seconds"] / t1m
        report.add(S2, "sklearn KMeans / uniform at 1M", ratio, "x")
        report.goal(S2, "uniform >= 100x faster than sklearn KMeans at 1M", f"{ratio:,.0f}x",
                    ratio >= 100)
    t11 = per_weight[RESNET18] * RESNET18
    if quick:
        if sk is not None:
            est = sk["seconds"] * RESNET18 / 1_000_000
            report.add(S2, "sklearn KMeans, N=11,200,000", est * 1e3, "ms",
                       "ESTIMATED lower bound: 11.2x the capped 1M run (not run under --quick)")
    else:
        timeout = 600
        sk11 = sklearn_kmeans(RESNET18, K, 300, timeout=timeout)
        if sk11 is None:
            report.add(S2, "sklearn KMeans, N=11,200,000", f"> {timeout} s", "",
                       f"stopped after {timeout} s; uniform takes {t11:.2f} s")
        else:
            report.add(S2, "sklearn KMeans, N=11,200,000", sk11["seconds"] * 1e3, "ms",
                       f"{sk11['n_iter']} iterations; {sk11['seconds'] / t11:,.0f}x uniform")
