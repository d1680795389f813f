"""Tabulate the exhaustive landscape of a one-variable space, with every decision's predictions.

    python benchmarks/tabulate_landscapes.py benchmarks/problems-landscapes.toml
    python benchmarks/tabulate_landscapes.py EXPERIMENT.toml --tasks shakespeare-gru --space k

For each task of the experiment (its first space unless ``--space`` names one), every decision
is evaluated through the task's own fitness harness, screened as the experiment screens, and
written to ``results/<experiment>/landscapes/<task>__<space>.npz``: the decisions, their
objectives, each decision's predictions on the search split (int16), the trained model's
predictions and margins, and the labels. That is enough to replay a search *with margin
estimates* (:class:`wsbench.search.tabulated.TabulatedProblem`): an estimate's subset, score
and moved share follow from the stored predictions exactly as the harness computes them.

Resumable: a task whose table exists (same weights fingerprint, same decisions) is skipped; a
table is written to a temporary name and renamed once complete. Where the experiment's exact
front exists, the tabulated objectives are checked against it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def margins(logits) -> np.ndarray:
    """Trained margin per row, as :class:`wsbench.search.estimate.MarginSubset` ranks rows."""
    top2 = logits.float().topk(min(2, logits.shape[1]), dim=1).values
    margin = top2[:, 0] - top2[:, -1]
    if margin.ndim > 1:
        margin = margin.flatten(1).min(1).values
    return margin.cpu().numpy().astype(np.float32)


def tabulate(exp, trial, out: Path, chunk: int = 16) -> Path:
    from tqdm import tqdm

    from wsbench_plugins.optimizers import all_decisions
    from wsbench.experiments.trial import build_harness
    from wsbench.experiments.work import torch_threads

    with torch_threads(exp.threads):
        h = build_harness(trial, "cpu", progress=True)
        fingerprint = h.view.fingerprint()
        if out.exists():
            with np.load(out) as old:
                if str(old["fingerprint"]) == fingerprint and len(old["X"]) == h.space_size:
                    print(f"{out.name}: up to date", file=sys.stderr)
                    return out
        X = all_decisions(h)
        split = h.search_split
        h.view.restore()
        logits = h.predict(split, screen=True, logits=True)
        F = np.zeros((len(X), 2))
        preds = []
        for i in tqdm(range(0, len(X), chunk), desc=f"{trial.task.label}/{trial.space.label}",
                      unit="chunk", file=sys.stderr):
            F[i:i + chunk] = h.evaluate(X[i:i + chunk])
            preds += [h.estimates.full[h._key(x)].numpy() for x in X[i:i + chunk]]
            h.estimates.full.clear()
        tmp = out.with_name(out.name + ".part")
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, X=X, F=F, pred=np.stack(preds).astype(np.int16),
                trained=logits.argmax(1).cpu().numpy().astype(np.int16), margin=margins(logits),
                labels=h.splits[split][1].cpu().numpy(), metric=trial.metric,
                num_classes=h.num_classes, fingerprint=fingerprint,
                meta=json.dumps({"task": trial.task.as_dict(), "space": trial.space.as_dict(),
                                 "quantizer": trial.quantizer.as_dict(), "fidelity": trial.fidelity,
                                 "screen_dtype": trial.screen_dtype, "split": split}))
        os.replace(tmp, out)
    return out


def check_against_exact(res, table: Path, task: str) -> str:
    """The largest objective difference to the exact record of ``task`` in the loaded results
    ``res`` (None: the folder has none yet)."""
    if res is None:
        return "no exact front to compare"
    with np.load(table) as t:
        mine = {tuple(x): f for x, f in zip(t["X"].tolist(), t["F"])}
    for e in res.exact_for(task):
        if e.ok and e.x and len(e.x[0]) == len(next(iter(mine))):
            diffs = [np.abs(np.array(f) - mine[tuple(x)]).max() for x, f in zip(e.x, e.f)
                     if tuple(x) in mine]
            return f"max |difference| to the exact front's {len(diffs)} decisions: {max(diffs):.3g}"
    return "no exact front to compare"


def main(argv: list[str] | None = None) -> int:
    from wsbench.errors import WsbenchError
    from wsbench.experiments.experiment_toml import load_experiment

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", type=Path)
    ap.add_argument("--tasks", nargs="+", help="task labels (default: every task)")
    ap.add_argument("--space", help="space label (default: the experiment's first space)")
    ap.add_argument("--results", type=Path, help="results folder (default: results/<name>)")
    args = ap.parse_args(argv)
    try:
        exp = load_experiment(args.experiment)
    except WsbenchError as exc:
        print(f"tabulate_landscapes.py: {exc}", file=sys.stderr)
        return 2
    folder = args.results or Path("results") / exp.name
    (folder / "landscapes").mkdir(parents=True, exist_ok=True)
    try:  # the exact fronts the tables are checked against, read once
        from wsbench.report.data import load_results

        res = load_results(folder)
    except WsbenchError:
        res = None
    done: set[str] = set()
    trials = exp.trials()
    wanted = args.space or trials[0].space.label
    for trial in trials:
        task = trial.task.label
        if (args.tasks and task not in args.tasks) or task in done or trial.space.label != wanted:
            continue
        done.add(task)
        out = folder / "landscapes" / f"{task}__{trial.space.name}.npz"
        try:
            tabulate(exp, trial, out)
        except WsbenchError as exc:
            print(f"tabulate_landscapes.py: {task}: {exc}", file=sys.stderr)
            return 2
        print(f"{out}: {check_against_exact(res, out, task)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
