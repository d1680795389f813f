"""Loading a results folder (:class:`~wsbench.experiments.store.ResultsStore`) into typed records
(:mod:`wsbench.experiments.records`) and computing every trial's indicators."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from wsbench.errors import ConfigError, reraised
from wsbench.experiments.code_identity import stale_records
from wsbench.experiments.experiment import LISTS, Experiment, Trial
from wsbench.experiments.indicators import Reference, hv2d, record_curve, trial_indicators
from wsbench.experiments.records import Coding, ExactRecord, Solution, TrialRecord
from wsbench.experiments.store import MALFORMED, ResultsStore, other_trial_ids

FACTORS = ("space", "quantizer", "optimizer", "merge")  # what a configuration is; tasks are blocks
STALE_MARK = " †"  # after a configuration whose records were made by other code


@dataclass
class TrialResult:
    trial: Trial
    record: TrialRecord
    task: str
    config: str
    indicators: dict[str, Any]
    curve: np.ndarray  # HV after each unique evaluation


@dataclass
class Results:
    path: Path
    exp: Experiment
    reference: dict[str, Reference]
    exact: dict[str, ExactRecord]   # trial.key -> exact-front record (status ok or unavailable)
    trials: list[TrialResult]
    skipped: list[tuple[Trial, str]] = field(default_factory=list)
    failed: list[tuple[Trial, str]] = field(default_factory=list)
    missing: list[Trial] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)   # in experiment order
    tasks: list[str] = field(default_factory=list)
    varying: list[str] = field(default_factory=list)   # factors that make up a config label
    others: list[str] = field(default_factory=list)    # trial ids in the folder outside this config
    # records made by other code than this checkout's (kept with ``wsbench run --keep-stale``):
    # trial id (or "exact front ...") -> why; their configurations' labels end in STALE_MARK
    stale: dict[str, str] = field(default_factory=dict)
    # best-known front key -> the trial ids it is the union of (spaces without an exact front)
    best_known: dict[str, list[str]] = field(default_factory=dict)

    @property
    def store(self) -> ResultsStore:
        return ResultsStore(self.path)

    def by_task(self, task: str) -> list[TrialResult]:
        return [t for t in self.trials if t.task == task]

    def exact_for(self, task: str) -> list[ExactRecord]:
        """The distinct exact-front records of a task (one per space/quantizer), also where no
        trial has finished (``wsbench run --exact-only`` tabulates landscapes alone)."""
        seen: dict[str, ExactRecord] = {}
        for rec in self.exact.values():
            if (rec.task.get("label") or rec.task.get("name")) == task:
                seen.setdefault(rec.key, rec)
        return list(seen.values())


def screened(res: Results) -> str:
    """How the search's objectives differ from full-split fp32 ones ("" when they do not).

    The archive holds what the optimizers saw, so HV, IGD+ and evaluations-to-target of a
    screened experiment are on screened objectives; every table and figure says so.
    """
    e = res.exp
    parts = ([f"{e.fidelity:.0%} of validation"] if e.fidelity < 1 else []) + (
        [e.screen_dtype] if e.screen_dtype != "float32" else [])
    return f"screened: {', '.join(parts)}" if parts else ""


def screened_sentence(res: Results) -> str:
    tag = screened(res)
    return (f" Search indicators ({tag}) are on the screened objectives the optimizers saw, not "
            f"on full-split fp32 values; reported solutions are re-scored in fp32." if tag else "")


def config_label(trial: Trial, varying: list[str]) -> str:
    parts = [getattr(trial, f).label for f in varying] or [trial.optimizer.label]
    return " / ".join(parts)


def load_results(path: str | Path) -> Results:
    """Read ``experiment.json``, ``reference.json``, exact fronts and the trials of this config.

    Trial files of other configurations that share the folder are left out, and named in
    ``Results.others`` so that the report says so.
    """
    store = ResultsStore(path)
    path = store.root
    meta = store.read("experiment.json")
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: not a results folder (no readable experiment.json); "
                          f"run `wsbench run EXPERIMENT.toml` first")
    with reraised(ConfigError, f"{path}: experiment.json is incomplete or malformed", *MALFORMED):
        exp = Experiment.from_dict(meta)
    with reraised(ConfigError, f"{path}: reference.json is malformed", *MALFORMED):
        ref_file = store.read("reference.json") or {}
        reference = {k: Reference.from_dict(v) for k, v in ref_file.get("tasks", {}).items()}
    for task in exp.tasks:
        reference.setdefault(task.label, exp.reference.get(task.label, Reference()))
    records = store.records()
    trials = exp.trials()
    varying = [f for f in FACTORS if len(getattr(exp, _plural(f))) > 1]
    res = Results(path, exp, reference, {}, [], varying=varying,
                  tasks=[t.label for t in exp.tasks], others=other_trial_ids(records, trials))
    exact: dict[Path, ExactRecord | None] = {}  # trials of one task/space/quantizer share it
    stale = stale_records(trials, records)
    marked = {config_label(t, varying) for t in trials if t.key in stale}
    for t in trials:
        label = config_label(t, varying)
        label += STALE_MARK if label in marked else ""
        if label not in res.configs:
            res.configs.append(label)
        _add_trial(res, store, t, records.get(t.key), label, exact)
    for t in trials:  # the exact fronts of groups with no finished trial (a landscape alone)
        if t.key not in res.exact and (rec := _exact_of(res, store, t, exact)) is not None:
            res.exact[t.key] = rec
    res.stale = {records[k].id or k: why for k, why in stale.items()}
    res.stale.update(_stale_exact(res, store, trials))
    check_one_model(res)
    from wsbench.report.best_known import add_best_known

    add_best_known(res)
    return res


def _stale_exact(res: Results, store: ResultsStore, trials: list[Trial]) -> dict[str, str]:
    """The exact fronts behind the report that were made by other code."""
    out: dict[str, str] = {}
    checked: set[str] = set()  # trials of one task/space/quantizer share one front: read it once
    for t in trials:
        name = f"exact front {t.task.label}/{t.space.label}/{t.quantizer.label}"
        if t.key in res.exact and name not in checked:
            checked.add(name)
            why = store.exact_stale(res.exp, t)
            if why:
                out[name] = why
    return out


def _add_trial(res: Results, store: ResultsStore, t: Trial, rec: TrialRecord | None,
               label: str, exact_cache: dict[Path, ExactRecord | None]) -> None:
    """File one trial of the experiment under missing, skipped, failed or done (indicators)."""
    if rec is None:
        res.missing.append(t)
        return
    if rec.status == "skipped":
        res.skipped.append((t, rec.reason or ""))
        return
    if not rec.ok:
        res.failed.append((t, rec.reason or ""))
        return
    exact = _exact_of(res, store, t, exact_cache)
    if exact is not None:
        res.exact[t.key] = exact
    ref = res.reference[t.task.label]
    with reraised(ConfigError, f"{res.path}: trial record {t.id} (or its exact front) is "
                  f"incomplete or malformed", *MALFORMED):
        curve = record_curve(rec, ref)
        ind = trial_indicators(rec, ref, exact if exact is not None and exact.ok else None,
                               res.exp.drops, curve=curve)
    res.trials.append(TrialResult(t, rec, t.task.label, label, ind, curve))


def _exact_of(res: Results, store: ResultsStore, t: Trial,
              cache: dict[Path, ExactRecord | None]) -> ExactRecord | None:
    """The exact-front record of ``t``'s task/space/quantizer, read once per file."""
    path = store.exact_path(res.exp, t)
    if path not in cache:
        cache[path] = store.exact(res.exp, t)
    return cache[path]


def check_one_model(res: Results) -> None:
    """Refuse to pool trials (or an exact front) of one task scored on different trained weights.

    A task's name does not pin its weights (a new checkpoint, another machine's training), and
    statistics over trials of two models compare nothing.
    """
    for task in res.tasks:
        seen: dict[str, str] = {}
        records: list[tuple[str, TrialRecord | ExactRecord]]
        records = [(t.trial.id, t.record) for t in res.trials if t.task == task]
        records += [(f"exact front {e.key}", e) for e in res.exact_for(task)]
        for name, rec in records:
            if rec.model:
                seen.setdefault(rec.model, name)
        if len(seen) > 1:
            (m1, a), (m2, b) = list(seen.items())[:2]
            raise ConfigError(f"{res.path}: task {task} was scored on different trained weights "
                              f"(model {m1} in {a}, {m2} in {b}); report them from separate "
                              f"folders")


def _plural(factor: str) -> str:
    return next(k for k, v in LISTS.items() if v == factor)


def exact_hv(exact: ExactRecord, reference: Reference) -> float:
    return hv2d(reference.normalise(np.asarray(exact.front_f)), reference.ref_point)


def curves_on_grid(trials: list[TrialResult], n: int) -> np.ndarray:
    """Anytime HV of each trial at 1..n unique evaluations (last value carried forward)."""
    out = np.zeros((len(trials), n))
    for i, t in enumerate(trials):
        c = t.curve[:n]
        if len(c):
            out[i, :len(c)] = c
            out[i, len(c):] = c[-1]
    return out


def best_cr_curve(record: TrialRecord, drops: np.ndarray) -> np.ndarray:
    """Best paper CR (merged + Huffman) at validation drop <= each value of ``drops``."""
    base = record.baseline.val
    sols = [(base - s.val, s.cr_paper) for s in record.merged]
    return np.array([max([cr for dr, cr in sols if dr <= d + 1e-12], default=np.nan) for d in drops])


def size_axis(size: str, coding: str) -> tuple[str, Callable[[Solution], float]]:
    """The size objective's axis label, and a solution's value on it (d, or its coded bits)."""
    if size == "bits":
        return f"index bits per weight ({coding})", lambda s: s.sizes[Coding(coding)].bits
    return "d (shared values)", lambda s: float(s.d)
