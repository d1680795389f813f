"""Run an experiment: every trial once, each written atomically to ``trials/<trial-id>.json``.

The results folder (its layout, files and records) is :class:`wsbench.experiments.store.ResultsStore`'s; the
records are :mod:`wsbench.experiments.records`. The harness (trained model, data, quantizer, space) is built
once per (task, space, quantizer) and reused; each trial gets a fresh decision cache and archive,
so its budget and counts are its own unique evaluations and its wall time includes every
evaluation it caused. A trial whose file says ``"status": "ok"`` is found by its key (hash of its
full config) and not run again. Where the trials run is the experiment's executor
(:mod:`wsbench.experiments.executor`): ``local`` runs them here, group by group
(:mod:`wsbench.experiments.groups`); the others run them on workers
(:mod:`wsbench.experiments.dispatch`), with the same records, written here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from wsbench.errors import ConfigError
from wsbench.experiments.code_identity import stale_records, summarise
from wsbench.experiments.experiment import Experiment, Trial
from wsbench.experiments.records import TrialRecord
from wsbench.experiments.store import ResultsStore, other_trial_ids

if TYPE_CHECKING:
    from wsbench.experiments.executor import Executor


@dataclass
class RunSummary:
    """What one run did, for its caller and for run.json."""

    out: Path
    total: int
    already_done: int = 0
    ran: int = 0
    stale: dict[str, str] = field(default_factory=dict)  # trial id -> why its record is stale
    kept_stale: bool = False  # stale records kept (``--keep-stale``) instead of run again
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (trial id, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)
    evaluations: int = 0  # unique search evaluations done by this run (exact fronts included)
    seconds: float = 0.0
    # finished trials in the folder that this experiment does not list: kept, but a report of
    # the folder (which follows the experiment run last) leaves them out
    other_trials: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # written by another process meanwhile
    taken: list[str] = field(default_factory=list)  # still held by another process at the end
    executor: dict[str, Any] = field(default_factory=dict)  # where the trials ran
    no_exact: list[str] = field(default_factory=list)  # exact fronts that failed or cannot exist

    def progress(self) -> dict[str, Any]:
        """The counts run.json records."""
        return {"trials": {"total": self.total, "already_done": self.already_done, "ran": self.ran,
                           "stale": len(self.stale), "kept_stale": self.kept_stale,
                           "skipped": len(self.skipped), "failed": len(self.failed),
                           "by_another_process": len(self.elsewhere), "taken": len(self.taken)},
                "unique_evaluations": self.evaluations, "seconds": self.seconds,
                "executor": self.executor}


def run_experiment(exp: Experiment, out: str | Path | None = None, progress: bool = True,
                   log: Callable[[str], None] | None = None,
                   executor: "Executor | None" = None, keep_stale: bool = False,
                   exact_only: bool = False, only: Sequence[str] = ()) -> RunSummary:
    """Run every unfinished trial of ``exp`` and write it to ``out`` (default results/<name>).

    A finished record made by other code (:mod:`wsbench.experiments.code_identity`) is run
    again, and so is an exact front; ``keep_stale`` keeps them (the report marks them).
    ``exact_only`` computes the exact fronts (the tabulated landscapes) and runs no trial.
    ``only`` runs the trials :func:`selected` picks, so that a long trial can be started first
    (a second process on the same folder takes the rest); the folder still holds all of ``exp``.

    ``executor`` (default: the experiment's ``[run]`` settings) says where trials run; only this
    process writes the folder. Other processes may run the same folder: each trial is locked
    while it runs (:mod:`wsbench.experiments.claims`); trials they hold are waited for at the
    end, and run here only if they stopped first."""
    from wsbench.experiments.executor import executor_for

    out = Path(out) if out is not None else Path("results") / exp.name
    if exact_only and not exp.exact_enabled:
        raise ConfigError(f"{exp.name}: exact fronts only, but its [exact] table disables them")
    executor = executor if executor is not None else executor_for(exp)
    with executor:  # a cluster is reached (or refused) before the folder is touched
        return _run(exp, out, progress, log, executor, keep_stale, exact_only, only)


def selected(trials: Iterable[Trial], only: Sequence[str]) -> list[Trial]:
    """The trials whose id matches one of ``only`` anywhere (a glob, as if wrapped in ``*``: an
    id starts with its task's name, so ``resnet32*mo-ub`` should not need a leading ``*``); all
    of them when ``only`` is empty. Matching none is an error."""
    trials = list(trials)
    if not only:
        return trials
    globs = [f"*{p}*" for p in only]
    picked = [t for t in trials if any(fnmatchcase(t.id, g) for g in globs)]
    if not picked:
        raise ConfigError(f"--only {' '.join(only)}: matches none of the {len(trials)} trial ids "
                          "(wsbench run --dry-run lists them)")
    return picked


def _run(exp: Experiment, out: Path, progress: bool, log: Callable[[str], None] | None,
         executor: "Executor", keep_stale: bool, exact_only: bool = False,
         only: Sequence[str] = ()) -> RunSummary:
    from tqdm.auto import tqdm

    from wsbench.experiments.dispatch import Dispatcher
    from wsbench.experiments.groups import GroupRunner
    from wsbench.experiments.plain_progress import PlainProgress, interactive
    from wsbench.experiments.work import torch_threads

    store = ResultsStore(out, keep_stale=keep_stale)
    store.create()
    listed = exp.trials()
    trials = selected(listed, only)
    claims = store.claims()  # before reading the records: what changes after is another's
    finished = store.finished()
    stale = stale_records(trials, finished)
    say = log or (tqdm.write if progress else print)
    if stale:
        say(f"{len(stale)} finished trial(s) made by other code "
            + ("kept (--keep-stale; the report marks them)" if keep_stale else
               "will run again (--keep-stale keeps them)") + f": {summarise(stale.values())}")
    fresh = finished if keep_stale else {k: r for k, r in finished.items() if k not in stale}
    for k in set(finished) - set(fresh) if not exact_only else ():
        store.keep_stale_copy(finished[k])
    todo = [t for t in trials if t.key not in fresh]
    summary = RunSummary(out, len(trials), already_done=len(trials) - len(todo),
                         other_trials=other_trial_ids(finished, listed),
                         executor=executor.describe(), kept_stale=keep_stale,
                         stale={finished[k].id or k: r for k, r in stale.items()})
    start = time.perf_counter()
    threads = exp.threads if executor.in_process else None  # else each task sets its own
    plain = progress and log is None and not interactive()  # a log file: lines, not bars
    bar_kind = (PlainProgress(len(trials), summary.already_done, exp.name) if plain else
                tqdm(total=len(trials), initial=summary.already_done, unit="trial", desc=exp.name,
                     disable=not progress, position=0))
    progress = progress and not plain  # the trials' own bars too
    with torch_threads(threads), bar_kind as bar:
        store.write_header(exp)
        store.write_run(exp, summary.progress())
        done = set(fresh) | ({t.key for t in trials} if exact_only else set())  # no trial runs
        if executor.in_process:
            run = GroupRunner(exp, store, done, fresh, summary, bar, say, progress, claims)
        else:
            run = Dispatcher(exp, store, executor, done, fresh, summary, bar, say, claims)
        run.groups(todo if not exp.exact_enabled else trials)
        if claims.taken:
            say(f"{len(claims.taken)} trial(s) taken by another process: waiting for them")
            run.groups(claims.wait_for_taken())
        summary.taken = [t.id for t in claims.taken]
        summary.elsewhere = list(claims.elsewhere)
        summary.seconds = time.perf_counter() - start
        store.write_run(exp, summary.progress(), finished=True)
    return summary


def say_stale_exact(store: ResultsStore, exp: Experiment, trial: Trial, say) -> None:
    """Say why an exact front about to be computed again was not kept."""
    why = store.exact_stale(exp, trial)
    if why:
        say(f"exact front of {trial.task.label}/{trial.space.label}/{trial.quantizer.label} {why}: "
            f"computing it again")


def _check_same_model(out: Path, finished: Iterable[TrialRecord], trial: Trial, model: str) -> None:
    """Refuse to mix trials of one task scored on different trained weights in one folder."""
    task = trial.config()["task"]
    for rec in finished:
        if rec.trial.get("task") == task and (rec.model or model) != model:
            raise ConfigError(
                f"{out}: its trials of task {trial.task.label} were run on other trained weights "
                f"(model {rec.model}, now {model}: a new checkpoint?); "
                f"write to a new folder with --out, or move {out / 'trials'} away")


def by_harness(trials: list[Trial]) -> dict[tuple, list[Trial]]:
    """Trials grouped by the harness they share, in first-seen order."""
    groups: dict[tuple, list[Trial]] = {}
    for t in trials:
        groups.setdefault(t.harness_key, []).append(t)
    return groups


def _last_of_task(groups: dict, group: list[Trial]) -> bool:
    keys = list(groups)
    later = keys[keys.index(group[0].harness_key) + 1:]
    return all(groups[k][0].task.label != group[0].task.label for k in later)


def _fail(store: ResultsStore, t: Trial, exc: BaseException | str, summary: RunSummary, say,
          traceback: str | None = None) -> None:
    msg = store.write_failure(t, exc, traceback)
    summary.failed.append((t.id, msg))
    say(f"FAILED {t.id}: {msg}")


def _exact(exp: Experiment, trial: Trial, h, store: ResultsStore, progress: bool, say,
           summary: RunSummary) -> int:
    """Enumerate the whole space (when exhaustive accepts it) and write the exact front."""
    from wsbench.experiments.work import exact_record

    rec, evaluations = exact_record(exp, trial, h, progress)
    store.write_exact(exp, trial, rec)
    if not rec.ok:
        say(f"no exact front for {trial.task.label}/{trial.space.label}: {rec.reason}")
        summary.no_exact.append(f"{trial.task.label}/{trial.space.label}: {rec.reason}")
    return evaluations


def harness(exp: Experiment, trial: Trial, data_cache: dict, progress: bool):
    """The trial's harness on the task's data, loaded once per task label."""
    from wsbench.experiments.trial import build_harness

    if trial.task.label not in data_cache:
        data_cache[trial.task.label] = trial.task.create().load(progress=progress)
    return build_harness(trial, exp.device, data=data_cache[trial.task.label], progress=progress)
