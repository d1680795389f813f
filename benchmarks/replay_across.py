"""Replays over every tabulated landscape, aggregated as COCO aggregates benchmark functions.

    python benchmarks/replay_landscapes.py results/problems-landscapes \\
        --json results/problems-landscapes/replays.json
    python benchmarks/replay_across.py results/problems-landscapes/replays.json \\
        [--figure results/problems-landscapes/replays-ecdf]

One landscape's table says who was fastest there; this asks whether it holds on all of them:

* a leaderboard: each optimizer's rank, per landscape, of its median HV / exact HV at the
  budget (1 = best), the mean rank, Friedman's test over landscapes and Holm-corrected Wilcoxon
  signed-rank tests over landscapes for every pair (:mod:`wsbench.report.across`, the report's
  own code);
* COCO's expected running time to 99.5% and 100% of each landscape's exact HV: evaluations
  spent by all seeds, a failed seed counting all it spent, over the seeds that reached it;
* with ``--figure``, the runtime ECDF over all (landscape, target) pairs, targets 50% to 100%
  of the exact HV, each landscape weighted equally (PNG and SVG).

Evaluations are those spent, margin estimates charged at their cost, as the replays count them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ERT_TARGETS = (0.995, 1.0)


def runtimes(curves: list[list[float]], targets) -> np.ndarray:
    """Evaluations each run (rows) spent to reach each target share (columns); inf if never."""
    from wsbench.report.anytime import curve_runtimes

    return curve_runtimes(curves, 1.0, targets)  # curves are HV / exact HV already


def by_landscape(dump: dict) -> dict[str, dict[str, dict]]:
    """landscape -> optimizer label -> its replays (runs and curves)."""
    out: dict[str, dict[str, dict]] = {}
    for r in dump["replays"]:
        if "curves" not in r:
            raise ValueError("replays without curves: rerun replay_landscapes.py --json")
        out.setdefault(r["task"], {})[r.get("label") or r["optimizer"]["name"]] = r
    return out


def leaderboard(lands: dict[str, dict[str, dict]]) -> str:
    from wsbench.report.across import control_pairs, leaderboard_ranks, signed_rank_pairs

    scores = {task: {label: float(np.median([c[-1] if c else 0.0 for c in r["curves"]]))
                     for label, r in opts.items()} for task, opts in lands.items()}
    per, mean, p = leaderboard_ranks(scores)
    pairs = signed_rank_pairs(scores, list(mean))
    tasks = list(per)
    lines = [f"| optimizer | {' | '.join(tasks)} | mean rank |",
             "|:---|" + "---:|" * (len(tasks) + 1)]
    for c in sorted(mean, key=mean.get):
        beaten = any(pairs.get((c, b), 1.0) < 0.05 and mean[b] < mean[c] for b in mean)
        lines.append(f"| {c} | {' | '.join(f'{per[t][c]:g}' for t in tasks)} | "
                     f"{mean[c]:.2f}{' †' if beaten else ''} |")
    best = min(mean, key=mean.get)
    vs = control_pairs(scores, best, list(mean))
    friedman = f"p = {p:.3g}" if p is not None else "needs 3 optimizers or more"
    lines.append(f"\nFriedman over {len(tasks)} landscapes: {friedman}. {best} against each other "
                 f"optimizer (Wilcoxon signed-rank over landscapes, Holm over {len(vs)} comparisons "
                 f"with a control): " + ", ".join(f"{c} {q:.3g}" for c, q in vs.items()) + ".")
    return "\n".join(lines)


def ert_table(lands: dict[str, dict[str, dict]]) -> str:
    from wsbench.report.across import ert

    tasks = list(lands)
    labels = list(dict.fromkeys(label for opts in lands.values() for label in opts))
    lines = [f"| optimizer | target | {' | '.join(tasks)} |", "|:---|---:|" + "---:|" * len(tasks)]
    for label in labels:
        for j, share in enumerate(ERT_TARGETS):
            cells = []
            for t in tasks:
                r = lands[t].get(label)
                if r is None:
                    cells.append("-")
                    continue
                rt = runtimes(r["curves"], ERT_TARGETS)[:, j]
                e = ert(rt, [run[-1] for run in r["runs"]])
                cells.append("inf" if not math.isfinite(e) else f"{e:.0f}")
            lines.append(f"| {label} | {share:.1%} | {' | '.join(cells)} |")
    return "\n".join(lines)


def per_landscape_runtimes(lands: dict[str, dict[str, dict]]) -> dict[str, list[np.ndarray]]:
    """optimizer label -> per landscape, its runs' evaluations to each of the ECDF's targets
    (a landscape it was not replayed on: never)."""
    from wsbench.report.anytime import TARGETS

    labels = list(dict.fromkeys(label for opts in lands.values() for label in opts))
    return {label: [runtimes(opts[label]["curves"], TARGETS) if label in opts
                    else np.full((1, len(TARGETS)), np.inf) for opts in lands.values()]
            for label in labels}


def ecdf_at(lands: dict[str, dict[str, dict]], budget: int) -> dict[str, float]:
    """Each optimizer's share of (landscape, target) pairs reached within ``budget``: the
    figure's value at its right edge."""
    from wsbench.report.across import pooled_ecdf

    return {label: float(pooled_ecdf(rt, np.array([float(budget)]))[0])
            for label, rt in per_landscape_runtimes(lands).items()}


def ecdf_figure(lands: dict[str, dict[str, dict]], stem: Path, budget: int) -> None:
    from wsbench.report.across import plot_pooled_ecdf

    plot_pooled_ecdf(per_landscape_runtimes(lands), budget, stem,
                     "evaluations spent (estimates at their cost)", f"{len(lands)} landscapes",
                     "landscape")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("replays", type=Path, help="the JSON of replay_landscapes.py --json")
    ap.add_argument("--figure", type=Path, help="write the ECDF here (stem: .png and .svg)")
    args = ap.parse_args(argv)
    try:
        dump = json.loads(args.replays.read_text())
        lands = by_landscape(dump)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"replay_across.py: {args.replays}: {exc}", file=sys.stderr)
        return 2
    print(f"Leaderboard (median HV / exact HV after {dump['budget']} evaluations, "
          f"{dump['seeds']} seeds):\n\n{leaderboard(lands)}\n")
    print(f"Expected running time (COCO's ERT, evaluations spent):\n\n{ert_table(lands)}")
    at = ecdf_at(lands, int(dump["budget"]))
    print(f"\nRuntime ECDF at {dump['budget']} evaluations (share of (landscape, target) pairs, "
          f"targets 50-100% of the exact HV): "
          + ", ".join(f"{label} {v:.2f}" for label, v in sorted(at.items(), key=lambda kv: -kv[1])))
    if args.figure:
        ecdf_figure(lands, args.figure, int(dump["budget"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
