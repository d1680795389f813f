"""Replay optimizers on the tabulated exhaustive landscapes of a results folder.

    python benchmarks/replay_landscapes.py results/problems-landscapes            # every landscape
    python benchmarks/replay_landscapes.py FOLDER --budget 100 --seeds 10 --json out.json
    python benchmarks/replay_landscapes.py results/problems-landscapes results/suite-landscapes

Each landscape is the folder's table of a task (``benchmarks/tabulate_landscapes.py``: every
decision with its objectives and predictions, so margin estimates replay too, charged at their
cost), else its exact front's record (``wsbench run EXPERIMENT --exact-only``: objectives only,
no estimates), as the search saw them (screened where the experiment screened). Each optimizer is driven over the table through the suite's own driver
(:class:`wsbench.search.tabulated.TabulatedProblem`), so a trial takes milliseconds and is exact:
the same objectives a live search would get. Printed per landscape and optimizer, over seeds:
the median unique evaluations to 99%, 99.5% and 100% of the exact front's HV, how many seeds
reached 100%, and COCO's expected running time to it, all counted in evaluations spent. With
``--json``, every run's anytime curve (HV / exact HV per evaluation spent) is kept too, which
``benchmarks/replay_across.py`` aggregates across the landscapes as COCO does.
Merging and test scores are not replayed: this measures the search.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

DEFAULT_OPTIMIZERS = ('{"name": "nsga2", "pop_size": 20}', "cmaes", "pso", "random", "exhaustive", "frontier",
                      '{"name": "frontier", "estimate_share": 0.1}',
                      '{"name": "optuna", "sampler": "TPESampler"}')
TARGETS = (0.99, 0.995, 1.0)


def replay(problem, reference, hv_exact: float, optimizer: dict, seed: int,
           budget: int) -> tuple[list[float], list[float]]:
    """Evaluations spent to each target share of the exact HV (inf: never) and all it spent;
    and the run's HV / exact HV after each evaluation spent (its anytime curve)."""
    from wsbench import plugins
    from wsbench.experiments.indicators import anytime_hv, evals_to_reach, on_cost_axis
    from wsbench.search.optimizer import drive

    problem.reset()
    opts = {k: v for k, v in optimizer.items() if k != "name"}
    drive(plugins.create("optimizer", optimizer["name"], **opts), problem, budget=budget, seed=seed,
          max_requested=40 * budget)
    fresh = [e for e in problem.archive if not e.cached]  # unique evaluations, in order
    F = np.array([e.f for e in fresh]).reshape(-1, 2)
    curve = on_cost_axis(anytime_hv(F, reference), np.array([e.cost for e in fresh]))
    out = []
    for share in TARGETS:
        n = evals_to_reach(curve, share * hv_exact)
        out.append(float(n) if n is not None else math.inf)
    return out + [float(problem.spent)], (curve / hv_exact).tolist()


def landscapes(res, folder: Path):
    """(task, problem, exact HV) of each landscape of a results folder: its table with
    predictions where there is one, else its exact front's record."""
    from wsbench.experiments.indicators import hypervolume
    from wsbench.report.best_known import is_best_known
    from wsbench.search.tabulated import Landscape, LandscapeProblem, TabulatedProblem

    for task in res.tasks:
        tables = sorted((folder / "landscapes").glob(f"{task}__*.npz"))
        if tables:
            for path in tables:
                problem = LandscapeProblem(Landscape.load(path))
                yield task, problem, hypervolume(problem.land.F, res.reference[task])
            continue
        for e in (e for e in res.exact_for(task) if e.ok and not is_best_known(e)):
            problem = TabulatedProblem({tuple(x): tuple(f) for x, f in zip(e.x, e.f)})
            yield task, problem, hypervolume(np.array(e.f), res.reference[task])


def main(argv: list[str] | None = None) -> int:
    from wsbench.errors import ConfigError
    from wsbench.experiments import stats
    from wsbench.report.across import ert
    from wsbench.report.data import load_results

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, nargs="+",
                    help="results folders with tables or exact fronts (several: every landscape of each)")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--optimizers", nargs="+", default=list(DEFAULT_OPTIMIZERS),
                    help="names or JSON tables, e.g. '{\"name\": \"nsga2\", \"pop_size\": 20}'")
    ap.add_argument("--json", type=Path, help="also write every replay's figures here")
    args = ap.parse_args(argv)
    try:
        folders = [(load_results(folder), folder) for folder in args.results]
        optimizers = [json.loads(o) if o.lstrip().startswith("{") else {"name": o}
                      for o in args.optimizers]
    except (ConfigError, json.JSONDecodeError) as exc:
        print(f"replay_landscapes.py: {exc}", file=sys.stderr)
        return 2
    rows, dump = [], []
    lands = [(res, *land) for res, folder in folders for land in landscapes(res, folder)]
    for res, task, problem, hv_exact in lands:
        for opt in optimizers:
            label = opt["name"] + "".join(f" {k}={v}" for k, v in opt.items() if k != "name")
            try:
                done = [replay(problem, res.reference[task], hv_exact, opt, s, args.budget)
                        for s in range(args.seeds)]
            except ConfigError as exc:  # e.g. optuna without the `search` extra
                print(f"skipped {label} on {task}: {exc}", file=sys.stderr)
                continue
            runs = np.array([r for r, _ in done])
            med = [stats.summarize(runs[:, j]).median for j in range(len(TARGETS))]
            reached = int(np.isfinite(runs[:, -2]).sum())
            rows.append((task, len(problem.table), label, *med, reached, ert(runs[:, -2], runs[:, -1])))
            dump.append({"task": task, "points": len(problem.table), "optimizer": opt,
                         "label": label, "runs": runs.tolist(), "curves": [c for _, c in done]})
    print(f"| task | decisions | optimizer | evals to 99% | to 99.5% | to 100% | reached 100% "
          f"| ERT to 100% |\n|:---|---:|:---|---:|---:|---:|---:|---:|")
    for task, n, label, a, b, c, reached, e in rows:
        cells = [_fmt(v) for v in (a, b, c)]
        print(f"| {task} | {n} | {label} | {' | '.join(cells)} | {reached}/{args.seeds} | {_fmt(e)} |")
    if args.json:
        from wsbench.files.cache import atomic_write_bytes

        atomic_write_bytes(args.json, (json.dumps({"budget": args.budget, "seeds": args.seeds,
                                                   "targets": TARGETS, "replays": dump}, indent=1)
                                       + "\n").encode())
    return 0


def _fmt(v: float) -> str:
    return "never" if not math.isfinite(v) else f"{v:.0f}"


if __name__ == "__main__":
    raise SystemExit(main())
