"""How well margin estimates predict a tabulated landscape, and what that allows a search.

    python benchmarks/landscape_estimates.py results/problems-landscapes
    python benchmarks/landscape_estimates.py FOLDER [FOLDER ...] --shares 0.1 0.2 --k-from 32

For every table of ``FOLDER/landscapes/`` (``benchmarks/tabulate_landscapes.py``) and every
estimate share, printed per landscape:

* the rank correlation (Spearman) of each decision's estimated and full objective, over the
  whole space and from K = ``--k-from`` on (the flat tail, where the front's last points are);
* a bound on what estimates can save: a sweep in order of K that estimates every decision and
  evaluates in full only those whose estimate is below the best full objective found so far
  (estimates are optimistic: they keep the trained model's predictions outside the subset),
  with the full evaluations it makes, the front points it misses, and its whole cost in
  evaluations (estimates at their share). A front point missed by this rule is one that an
  estimate ranked behind an already-found point.

With ``--random-items``, the rank correlation in the tail of a plain subsample is printed
beside it: the metric on a seeded random share of the items (images, or characters across all
windows), mean over five seeds (nan where a subset sees every decision of the tail alike). It
asks whether choosing items by the trained model's margin (windows, on the language models) is
what limits the estimates, or the share itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation; nan where either side is constant (a subset that sees no difference)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b)[0])


def random_items(land, share: float, tail: np.ndarray, seeds: int = 5) -> float:
    """Mean tail Spearman of the error on a random ``share`` of the items, over ``seeds``."""
    pred = land.pred.reshape(len(land.X), -1)
    labels = np.asarray(land.labels).reshape(-1)
    out = []
    for seed in range(seeds):
        idx = np.random.default_rng(seed).choice(labels.size, int(share * labels.size), replace=False)
        est = 1.0 - (pred[:, idx] == labels[idx]).mean(1)
        out.append(spearman(land.F[tail, 0], est[tail]))
    return float(np.mean(out))


def estimate_sweep(K: np.ndarray, f: np.ndarray, e: np.ndarray, front: set[int]
                   ) -> tuple[int, int]:
    """(full evaluations, front points missed) of the estimate-filtered sweep in order of K."""
    best, evaluated = np.inf, set()
    for i in np.argsort(K, kind="stable"):
        if e[i] < best:
            evaluated.add(int(i))
            best = min(best, f[i])
    return len(evaluated), len(front - evaluated)


def main(argv: list[str] | None = None) -> int:
    from wsbench.errors import ConfigError
    from wsbench.search.pareto import non_dominated
    from wsbench.search.tabulated import Landscape, LandscapeProblem

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, nargs="+", help="results folders with tables")
    ap.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.2])
    ap.add_argument("--k-from", type=int, default=32)
    ap.add_argument("--random-items", action="store_true",
                    help="also the tail Spearman of a random item subsample of each share")
    args = ap.parse_args(argv)
    tables = [t for folder in args.results for t in sorted((folder / "landscapes").glob("*.npz"))]
    if not tables:
        where = ", ".join(str(f / "landscapes") for f in args.results)
        print(f"landscape_estimates.py: no tables in {where}; run "
              f"benchmarks/tabulate_landscapes.py first", file=sys.stderr)
        return 2
    extra = (f" random items, K >= {args.k_from} |", "---:|") if args.random_items else ("", "")
    print(f"| landscape | share | Spearman, all K | Spearman, K >= {args.k_from} |{extra[0]} full "
          f"evaluations | front points missed | cost (evaluations) |\n"
          f"|:---|---:|---:|---:|{extra[1]}---:|---:|---:|")
    for path in tables:
        try:
            land = Landscape.load(path)
        except ConfigError as exc:
            print(f"landscape_estimates.py: {exc}", file=sys.stderr)
            return 2
        problem = LandscapeProblem(land)
        K, f = land.X[:, 0], land.F[:, 0]
        front = {int(i) for i in np.flatnonzero(non_dominated(land.F))}
        tail = K >= args.k_from
        for share in args.shares:
            e = problem.estimate(land.X, share)[:, 0]
            full, missed = estimate_sweep(K, f, e, front)
            rand = f" {random_items(land, share, tail):.2f} |" if args.random_items else ""
            print(f"| {path.stem.split('__')[0]} | {share:g} | {spearman(f, e):.2f} | "
                  f"{spearman(f[tail], e[tail]):.2f} |{rand} {full} | {missed} of {len(front)} | "
                  f"{full + problem.subsets[share][1] * len(K):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
