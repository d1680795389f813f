"""How close margin estimates come to full evaluations, and what they cost, on any task.

    python benchmarks/estimate_fidelity.py TASK [--share 0.1] [--k 8,12,16,...] [--fidelity F]

For each K of space ``k``: the full validation score (1 - F1) of the search's objectives, the
margin estimate on ``share`` of those images (wsbench/search/estimate.py), the share of the
estimate's images whose prediction moved, and the seconds each took. The estimates run on a
fresh harness first, so none is computed from a kept full evaluation. Prints a table and the
summary: how many estimates are exact, the largest difference, the time ratio.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

DEFAULT_K = "4,6,8,10,12,16,20,24,32,48,64,96,128,256"


def main(argv: list[str]) -> int:
    import torch

    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.trial import build_harness

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("task")
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--k", default=DEFAULT_K, help="K values, comma-separated, or a range A-B")
    ap.add_argument("--fidelity", type=float, default=1.0, help="the search's validation subset")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    h = build_harness(CompressConfig(task=args.task, fidelity=args.fidelity).trial(), progress=False)
    lo, _, hi = args.k.partition("-")
    ks = range(int(lo), int(hi) + 1) if hi else [int(k) for k in args.k.split(",")]
    X = np.array([[float(k)] for k in ks])
    h.estimate(X[:1], args.share)  # the trained model's margins, once, outside the timings
    h.reset()
    t_est, t_full, estimates, rows = [], [], [], []
    for x in X:
        t0 = time.perf_counter()
        estimates.append(h.estimate(x[None], args.share)[0])
        t_est.append(time.perf_counter() - t0)
    for x in X:
        t0 = time.perf_counter()
        full = h.evaluate(x[None])[0]
        t_full.append(time.perf_counter() - t0)
        rows.append((int(x[0]), full[0]))
    h.reset()
    h.evaluate(X)  # kept predictions: the estimates are now computed from them, free
    same = np.allclose(h.estimate(X, args.share), np.array(estimates), atol=1e-12) and not h.charged
    print(f"{args.task}, space k, share {args.share:g} ({h.search_split}), {args.threads} threads")
    print("|   K | full 1-F1 | estimate | moved | |diff| |")
    print("|--:|--:|--:|--:|--:|")
    diffs = []
    for (k, full), est in zip(rows, estimates):
        diffs.append(abs(full - est[0]))
        if len(rows) <= 40 or diffs[-1] > 1e-12:  # a long range: the inexact ones only
            print(f"| {k} | {full:.4f} | {est[0]:.4f} | {est[2]:.2f} | {diffs[-1]:.4f} |")
    exact = sum(d < 1e-12 for d in diffs)
    print(f"exact: {exact}/{len(diffs)}; largest |diff| {max(diffs):.4f}; "
          f"seconds per estimate {np.median(t_est):.2f}, per full evaluation "
          f"{np.median(t_full):.2f} (ratio {np.median(t_est) / np.median(t_full):.3f}, medians); "
          f"estimates from kept full predictions equal, and free: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
