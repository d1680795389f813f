"""Best-known fronts: the reference of a space too large to enumerate, as COCO keeps one.

Where a task's space has no exact front (``[exact] enabled = false``, or more decisions than
``max_points``), HV alone says which optimizer did better but not how far any is from the
best achievable. COCO's answer for problems without a known optimum is the best-known front:
the non-dominated union of every run's solutions. The report builds one per task and objective
definition (metric, shared weights, screening, size objective) from every finished trial of the
folder, whatever its space, quantizer or optimizer (they all trade the same two objectives),
and from the exact fronts of that definition; each decision counts once. It is used where the
exact front would be (HV ratio, IGD+, evaluations to a share of its HV), every title says so,
and it is written beside the report (``best-known/*.csv``, and ``*.json`` with the trials it is
the union of) so that a later run or another tool can be scored against the same front.

It is a moving reference: a new trial may extend it, so ratios are comparable within one report.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from wsbench.experiments.indicators import trial_indicators
from wsbench.experiments.records import ExactRecord
from wsbench.files.cache import content_key
from wsbench.report.data import Results, TrialResult

KIND = "best-known"
SHARE = 0.95  # of a best-known front's HV: what "reached" means where no run can reach it all


def objectives_key(t: TrialResult) -> str:
    """Trials with this key trade the same two objectives, whatever their space or quantizer."""
    return content_key(task=t.task, metric=t.trial.metric, include=t.trial.include,
                       **t.trial.screening())


def add_best_known(res: Results) -> None:
    """Give every trial without an exact front its objectives' best-known front (in place)."""
    from wsbench.search.pareto import non_dominated

    groups: dict[str, list[TrialResult]] = {}
    for t in res.trials:
        groups.setdefault(objectives_key(t), []).append(t)
    for trials in groups.values():
        open_ = [t for t in trials if t.trial.key not in res.exact or not res.exact[t.trial.key].ok]
        if not open_:
            continue
        exact = {e.key: e for t in trials if (e := res.exact.get(t.trial.key)) is not None and e.ok}
        X, F = _union(trials, exact.values())
        if not len(F):
            continue
        keep = non_dominated(F)
        order = np.lexsort((F[keep, 0], F[keep, 1]))
        first = open_[0]
        spaces = sorted({t.trial.space.label for t in trials})
        rec = ExactRecord(f"{KIND}:{first.task}:{objectives_key(first)}", first.trial.task.as_dict(),
                          {"name": KIND, "spaces": spaces}, {"name": KIND},
                          res.exp.metric, res.exp.include, "ok", first.trial.screening(),
                          first.record.model,
                          reason=f"{KIND}: non-dominated union of {len(trials)} trials' archives"
                                 + (f" and {len(exact)} exact front(s)" if exact else ""),
                          points=len(X), front_x=X[keep][order].tolist(),
                          front_f=F[keep][order].tolist())
        res.best_known[rec.key] = [t.trial.id for t in trials]
        ref = res.reference[first.task]
        for t in open_:
            res.exact[t.trial.key] = rec
            t.indicators = trial_indicators(t.record, ref, rec, res.exp.drops, curve=t.curve)


def _union(trials: list[TrialResult], exact) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct decision the trials (and exact fronts) scored, once, with its objectives.

    Decisions of different spaces have different lengths; each is keyed with its space."""
    seen: dict[tuple, tuple[list[float], list[float]]] = {}
    for t in trials:
        arch = t.record.archive
        for x, f, cached in zip(arch.x, arch.f, arch.cached):
            if not cached:
                seen.setdefault((t.trial.space.label, *x), (x, f))
    for e in exact:
        for x, f in zip(e.front_x, e.front_f):
            seen.setdefault((e.space.get("label") or e.space.get("name"), *x), (x, f))
    width = max((len(x) for x, _ in seen.values()), default=0)
    X = np.array([list(x) + [np.nan] * (width - len(x)) for x, _ in seen.values()]).reshape(-1, width)
    F = np.array([f for _, f in seen.values()], dtype=np.float64).reshape(-1, 2)
    return X, F


def is_best_known(rec: ExactRecord) -> bool:
    return rec.key.startswith(f"{KIND}:")


def reference_name(res: Results, task: str | None = None) -> str:
    """What the report's "reference front" is: exact, best-known, or (mixed tasks) reference."""
    kinds = {KIND if is_best_known(e) else "exact"
             for t in ([task] if task else res.tasks) for e in res.exact_for(t) if e.ok}
    return kinds.pop() if len(kinds) == 1 else "reference"


def reached_share(res: Results, task: str) -> float:
    """The share of the reference HV a run must reach to count as reaching it: all of an exact
    front's; 95% of a best-known front's, which no single run can be expected to reach whole."""
    return SHARE if reference_name(res, task) == KIND else 1.0


def write_best_known(res: Results, out: Path) -> list[Path]:
    """One CSV per best-known front (its points: decision, objectives) and a JSON beside it
    (which trials it is the union of); files of an earlier report are removed."""
    from wsbench.files.cache import atomic_write_bytes

    folder = out / KIND
    for old in [*folder.glob("*.csv"), *folder.glob("*.json")]:
        old.unlink()
    written = []
    for rec in {e.key: e for e in res.exact.values() if is_best_known(e)}.values():
        task = rec.key.split(":")[1]
        stem = folder / re.sub(r"[^A-Za-z0-9._-]+", "-", f"{task}-{rec.key.rsplit(':', 1)[1]}")
        width = len(rec.front_x[0]) if rec.front_x else 0
        lines = [",".join([f"x{j}" for j in range(width)] + ["f1", "f2"])]
        lines += [",".join(_num(v) for v in [*x, *f]) for x, f in zip(rec.front_x, rec.front_f)]
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(stem.with_suffix(".csv"), ("\n".join(lines) + "\n").encode())
        meta = {"task": task, "spaces": rec.space.get("spaces"), "screening": rec.screening,
                "what": rec.reason, "distinct_decisions": rec.points,
                "front_points": len(rec.front_f), "trials": res.best_known[rec.key]}
        atomic_write_bytes(stem.with_suffix(".json"), (json.dumps(meta, indent=1) + "\n").encode())
        written += [stem.with_suffix(".csv"), stem.with_suffix(".json")]
    return written


def _num(v: float) -> str:
    return "" if v != v else repr(float(v))  # a shorter space's decision leaves columns empty
