"""The CIFAR question of issue 16, from a finished ``search-cifar10`` results folder.

    python benchmarks/search_cifar10.py [results/search-cifar10] [--figure PATH] [--json PATH]

The target is the hypervolume of the 48-evaluation NSGA-II fronts (their median over seeds;
the largest is reported too), in the suite's fixed normalisation and on the screened
objectives the searches saw. For every trial: the unique evaluations and the search wall time
after which its archive reaches the target. The wall time is the trial's own clock: the
seconds of its evaluations up to that one, plus the optimizer's own time (the search's seconds
beyond its evaluations) pro rata. Each ratio is against the NSGA-II trial of the same seed,
whose whole 48-evaluation search is its time to its own front.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def elapsed(record) -> np.ndarray:
    """Search seconds after each unique evaluation (evaluations plus the optimizer's share)."""
    arch = record.archive
    unique = ~np.asarray(arch.cached, dtype=bool)
    spent = np.cumsum(np.asarray(arch.seconds, dtype=np.float64))[unique]
    evaluations = float(record.seconds.get("evaluations", spent[-1] if len(spent) else 0.0))
    overhead = max(0.0, float(record.seconds.get("search", evaluations)) - evaluations)
    return spent + overhead * np.arange(1, len(spent) + 1) / max(len(spent), 1)


def rows(res, baseline: str = "nsga2") -> tuple[dict, list[dict]]:
    """The targets and one row per trial of loaded results (``wsbench.report.data``)."""
    from wsbench.experiments.indicators import evals_to_reach

    base = {t.trial.seed: t for t in res.trials if t.config == baseline}
    if not base:
        raise SystemExit(f"{res.path}: no finished trial of configuration {baseline!r}")
    finals = {s: float(t.curve[-1]) for s, t in base.items()}
    target = float(np.median(list(finals.values())))
    out = []
    for t in sorted(res.trials, key=lambda t: (t.config != baseline, t.config, t.trial.seed)):
        if t.record.charged:  # its clock and curve would count estimates apart: not comparable
            print(f"skipped {t.config} seed {t.trial.seed}: margin estimates are not timed here",
                  file=sys.stderr)
            continue
        n, n_max = evals_to_reach(t.curve, target), evals_to_reach(t.curve, max(finals.values()))
        clock = elapsed(t.record)
        ref = base.get(t.trial.seed)
        ref_seconds = float(elapsed(ref.record)[-1]) if ref is not None else None
        seconds = float(clock[n - 1]) if n is not None else None
        out.append({"config": t.config, "seed": t.trial.seed, "unique": t.record.unique,
                    "hv": float(t.curve[-1]), "evals_to_target": n, "seconds_to_target": seconds,
                    "evals_to_largest": n_max,
                    "seconds_to_largest": float(clock[n_max - 1]) if n_max is not None else None,
                    "seconds_per_eval": float(clock[-1] / len(clock)) if len(clock) else None,
                    "nsga2_seconds": ref_seconds,
                    "ratio": seconds / ref_seconds if seconds is not None and ref_seconds else None})
    return {"target": target, "nsga2_final": finals, "max": max(finals.values())}, out


def markdown(facts: dict, table: list[dict]) -> str:
    def num(v, fmt):
        return "never" if v is None else format(v, fmt)

    lines = [f"Target: HV {facts['target']:.4f} (median of the NSGA-II fronts after 48 unique "
             f"evaluations; their largest: {facts['max']:.4f}).", "",
             "| optimizer | seed | unique evals | final HV | evals to target | search s to target "
             "| NSGA-II's 48 evals (s) | time ratio | evals (s) to the largest |",
             "|:---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in table:
        lines.append(f"| {r['config']} | {r['seed']} | {r['unique']} | {r['hv']:.4f} | "
                     f"{num(r['evals_to_target'], 'd')} | {num(r['seconds_to_target'], '.0f')} | "
                     f"{num(r['nsga2_seconds'], '.0f')} | {num(r['ratio'], '.2f')} | "
                     f"{num(r['evals_to_largest'], 'd')} ({num(r['seconds_to_largest'], '.0f')}) |")
    return "\n".join(lines)


def figure(res, facts: dict, path: Path) -> None:
    """HV against search wall time, every trial, the target as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors: dict[str, str] = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for t in res.trials:
        color = colors.setdefault(t.config, f"C{len(colors)}")
        ax.step(elapsed(t.record), t.curve, where="post", color=color, alpha=0.8,
                label=t.config if t.trial.seed == min(s.trial.seed for s in res.trials) else None)
    ax.axhline(facts["target"], color="k", lw=0.8, ls="--", label="target: median HV of NSGA-II's 48-eval fronts")
    ax.set_xlabel("search wall time (s)")
    ax.set_ylabel("HV of the archive (screened objectives)")
    ax.set_ylim(bottom=max(0.0, facts["target"] - 0.05))
    ax.legend(fontsize=8)
    ax.set_title("cifar10-resnet20, space k: HV against wall time", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="results/search-cifar10", type=Path)
    ap.add_argument("--figure", type=Path, help="write the HV-against-time figure here")
    ap.add_argument("--json", type=Path, help="write the targets and rows here")
    args = ap.parse_args(argv)
    from wsbench.report.data import load_results

    res = load_results(args.folder)
    facts, table = rows(res)
    print(markdown(facts, table))
    if args.figure:
        figure(res, facts, args.figure)
    if args.json:
        args.json.write_text(json.dumps({**facts, "rows": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
