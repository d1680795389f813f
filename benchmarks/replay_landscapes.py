"""Replay optimizers on the tabulated exhaustive landscapes of a results folder.

    python benchmarks/replay_landscapes.py results/problems-landscapes            # every landscape
    python benchmarks/replay_landscapes.py FOLDER --budget 100 --seeds 10 --json out.json

Each landscape is an exact front's record (``wsbench run EXPERIMENT --exact-only``): every
decision of the space with its objectives, as the search saw them (screened where the
experiment screened). Each optimizer is driven over the table through the suite's own driver
(:class:`wsbench.search.tabulated.TabulatedProblem`), so a trial takes milliseconds and is exact:
the same objectives a live search would get. Printed per landscape and optimizer, over seeds:
the median unique evaluations to 99%, 99.5% and 100% of the exact front's HV, how many seeds
reached 100%, and COCO's expected running time to it. Margin estimates are off (a table has
none). Merging and test scores are not replayed: this measures the search.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

DEFAULT_OPTIMIZERS = ('{"name": "nsga2", "pop_size": 20}', "cmaes", "pso", "random", "exhaustive", "frontier",
                      '{"name": "optuna", "sampler": "TPESampler"}')
TARGETS = (0.99, 0.995, 1.0)


def replay(table: dict, reference, hv_exact: float, optimizer: dict, seed: int,
           budget: int) -> list[float]:
    """Unique evaluations to each target share of the exact HV (inf: never), and all it spent."""
    from wsbench import plugins
    from wsbench.experiments.indicators import anytime_hv, evals_to_reach
    from wsbench.search.optimizer import drive
    from wsbench.search.tabulated import TabulatedProblem

    problem = TabulatedProblem(table)
    opts = {k: v for k, v in optimizer.items() if k != "name"}
    drive(plugins.create("optimizer", optimizer["name"], **opts), problem, budget=budget, seed=seed,
          max_requested=40 * budget)
    _, F = problem.archive_arrays()  # unique evaluations, in the order they were made
    curve = anytime_hv(F, reference)
    out = []
    for share in TARGETS:
        n = evals_to_reach(curve, share * hv_exact)
        out.append(float(n) if n is not None else math.inf)
    return out + [float(problem.unique)]


def main(argv: list[str] | None = None) -> int:
    from wsbench.errors import ConfigError
    from wsbench.experiments import stats
    from wsbench.report.across import ert
    from wsbench.report.best_known import is_best_known
    from wsbench.report.data import exact_hv, load_results

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--optimizers", nargs="+", default=list(DEFAULT_OPTIMIZERS),
                    help="names or JSON tables, e.g. '{\"name\": \"nsga2\", \"pop_size\": 20}'")
    ap.add_argument("--json", type=Path, help="also write every replay's figures here")
    args = ap.parse_args(argv)
    try:
        res = load_results(args.results)
        optimizers = [json.loads(o) if o.lstrip().startswith("{") else {"name": o}
                      for o in args.optimizers]
    except (ConfigError, json.JSONDecodeError) as exc:
        print(f"replay_landscapes.py: {exc}", file=sys.stderr)
        return 2
    rows, dump = [], []
    for task in res.tasks:
        for e in (e for e in res.exact_for(task) if e.ok and not is_best_known(e)):
            table = {tuple(x): tuple(f) for x, f in zip(e.x, e.f)}
            hv_exact = exact_hv(e, res.reference[task])
            for opt in optimizers:
                label = opt["name"] + "".join(f" {k}={v}" for k, v in opt.items() if k != "name")
                try:
                    runs = np.array([replay(table, res.reference[task], hv_exact, opt, s, args.budget)
                                     for s in range(args.seeds)])
                except ConfigError as exc:  # e.g. optuna without the `search` extra
                    print(f"skipped {label} on {task}: {exc}", file=sys.stderr)
                    continue
                med = [stats.summarize(runs[:, j]).median for j in range(len(TARGETS))]
                reached = int(np.isfinite(runs[:, -2]).sum())
                rows.append((task, len(table), label, *med, reached, ert(runs[:, -2], runs[:, -1])))
                dump.append({"task": task, "points": len(table), "optimizer": opt,
                             "runs": runs.tolist()})
    print(f"| task | decisions | optimizer | evals to 99% | to 99.5% | to 100% | reached 100% "
          f"| ERT to 100% |\n|:---|---:|:---|---:|---:|---:|---:|---:|")
    for task, n, label, a, b, c, reached, e in rows:
        cells = [_fmt(v) for v in (a, b, c)]
        print(f"| {task} | {n} | {label} | {' | '.join(cells)} | {reached}/{args.seeds} | {_fmt(e)} |")
    if args.json:
        args.json.write_text(json.dumps({"budget": args.budget, "seeds": args.seeds,
                                         "targets": TARGETS, "replays": dump}, indent=1) + "\n")
    return 0


def _fmt(v: float) -> str:
    return "never" if not math.isfinite(v) else f"{v:.0f}"


if __name__ == "__main__":
    raise SystemExit(main())
