"""Running an experiment's work on an executor's workers, for :func:`~wsbench.experiments.runner.run_experiment`.

One trial is one task (:mod:`wsbench.experiments.work`); what trials share is a task of its own,
submitted once and handed to them: the task's data, each harness's facts and the exact front.
Only this process writes the results folder, each record atomically as its task finishes, so a
killed run keeps every finished trial and a rerun does the rest. A trial is claimed
(:mod:`wsbench.experiments.claims`) when it is submitted and released once written; about twice
as many tasks as the executor has slots are in flight at a time, so claims stay few and other
processes sharing the folder still find work.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from wsbench.experiments import runner, work
from wsbench.experiments.claims import Claims
from wsbench.experiments.executor import Executor
from wsbench.experiments.experiment import Experiment, Trial
from wsbench.experiments.locking import Lock
from wsbench.experiments.records import TrialRecord
from wsbench.experiments.store import ResultsStore
from wsbench.files.cache import content_key


@dataclass
class _Job:
    kind: str  # "trial" or "exact"
    trial: Trial
    lock: Lock


@dataclass
class Dispatcher:
    """One run's state while its trials run on ``executor``."""

    exp: Experiment
    store: ResultsStore
    executor: Executor
    done: set[str]
    finished: dict[str, TrialRecord]
    summary: runner.RunSummary
    bar: Any
    say: Callable[[str], None]
    claims: Claims
    token: str = field(default_factory=lambda: secrets.token_hex(4))  # this run's task names
    data: dict[str, Any] = field(default_factory=dict)   # task label -> future of its data
    facts: dict[tuple, Any] = field(default_factory=dict)  # harness key -> future of its facts
    busy: dict[str, int] = field(default_factory=dict)    # task label -> jobs not yet written
    planned: dict[str, int] = field(default_factory=dict)  # task label -> groups not yet submitted
    checked: set[str] = field(default_factory=set)        # task labels whose weights were checked
    warned: set[str] = field(default_factory=set)         # warnings already said this run

    @property
    def threads(self) -> int:
        """Torch threads of each task: the experiment's, else one (a trial per slot)."""
        return self.exp.threads or 1

    @property
    def resources(self) -> dict[str, float] | None:
        """A trial on a CUDA device needs a worker that offers a GPU."""
        return {"GPU": 1} if (self.exp.device or "").startswith("cuda") else None

    def groups(self, trials: list[Trial]) -> None:
        """Run ``trials`` (and the exact fronts they lack), writing each as it finishes."""
        groups = runner.by_harness(trials)
        for group in groups.values():
            label = group[0].task.label
            self.planned[label] = self.planned.get(label, 0) + 1
        inflight: dict[Any, _Job] = {}
        window = max(2, 2 * self.executor.slots())
        try:
            for future, job in self._submitted(groups):
                inflight[future] = job
                while len(inflight) >= window:
                    self._collect(inflight)
            while inflight:
                self._collect(inflight)
        finally:
            for job in inflight.values():
                job.lock.release()
            for label in list(self.data):
                self._release(label)

    def _submitted(self, groups: dict[tuple, list[Trial]]) -> Iterator[tuple[Any, _Job]]:
        """Submit, group by group, the exact front a group lacks and its unfinished trials."""
        exp, store = self.exp, self.store
        for group in groups.values():
            first = group[0]
            pending = [t for t in group if t.key not in self.done and self.claims.free(t)]
            if exp.exact_enabled and not store.has_exact(exp, first):
                lock = store.lock_exact(exp, first)  # None: another process computes it
                if lock is not None and store.has_exact(exp, first):
                    lock.release()
                elif lock is not None:
                    runner.say_stale_exact(store, exp, first, self.say)
                    yield self._submit(_Job("exact", first, lock))
            for t in pending:
                lock = self.claims.claim(t)
                if lock is None:
                    self.bar.update()
                    continue
                yield self._submit(_Job("trial", t, lock))
            self.planned[first.task.label] -= 1
            self._release_if_unused(first.task.label)

    def _submit(self, job: _Job) -> tuple[Any, _Job]:
        t, ex, device = job.trial, self.executor, self.exp.device
        label = t.task.label
        if label not in self.data:
            # named per run: a long-lived worker never reuses a harness of another run's weights
            name = f"{content_key(**t.task.identity())}-{self.token}"
            self.data[label] = ex.submit(work.load_data, t.task, name, key=f"wsbench-data-{name}")
        data = self.data[label]
        self.busy[label] = self.busy.get(label, 0) + 1
        if job.kind == "exact":
            return ex.submit(work.exact, data, self.exp, t, device, self.threads,
                             key=f"wsbench-exact-{t.key}-{self.token}",
                             resources=self.resources), job
        if t.harness_key not in self.facts:
            self.facts[t.harness_key] = ex.submit(
                work.facts, data, t, device, self.threads,
                key=f"wsbench-facts-{content_key(parts=list(t.harness_key))}-{self.token}",
                resources=self.resources)
        return ex.submit(work.trial_record, data, self.facts[t.harness_key], t, device,
                         self.threads, key=f"wsbench-trial-{t.key}-{self.token}",
                         resources=self.resources), job

    def _collect(self, inflight: dict[Any, _Job]) -> None:
        """Write what finished (a lost worker's task, beyond the executor's retries, fails)."""
        for future in self.executor.wait(list(inflight)):
            job = inflight.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker died, the task was cancelled
                outcome = work.Outcome.failed(exc)
            with job.lock:
                if job.kind == "exact":
                    self._exact_done(job.trial, outcome)
                else:
                    self._trial_done(job.trial, outcome)
            label = job.trial.task.label
            self.busy[label] -= 1
            self._release_if_unused(label)

    def _trial_done(self, t: Trial, outcome: work.Outcome) -> None:
        summary = self.summary
        self.bar.update()
        if not outcome.ok:
            runner._fail(self.store, t, outcome.error or "failed", summary, self.say,
                         outcome.traceback)
            return
        rec: TrialRecord = outcome.value
        self._check_model(t, rec.model)
        self._check_code(t, rec)
        self.store.write_trial(rec)
        if not rec.ok:
            summary.skipped.append((t.id, rec.reason))
            self.say(f"skipped {t.optimizer.label} on space {t.space.label}: {rec.reason}")
        else:
            summary.ran += 1
            summary.evaluations += rec.unique

    def _exact_done(self, t: Trial, outcome: work.Outcome) -> None:
        if not outcome.ok:  # no file: the next run tries again
            self.say(f"exact front of {t.task.label}/{t.space.label} failed: {outcome.error}")
            self.summary.no_exact.append(f"{t.task.label}/{t.space.label}: failed: {outcome.error}")
            return
        rec, evaluations = outcome.value
        self._check_model(t, rec.model)
        self.store.write_exact(self.exp, t, rec)
        self.summary.evaluations += evaluations
        if not rec.ok:
            self.say(f"no exact front for {t.task.label}/{t.space.label}: {rec.reason}")
            self.summary.no_exact.append(f"{t.task.label}/{t.space.label}: {rec.reason}")

    def _check_code(self, t: Trial, rec: TrialRecord) -> None:
        """Say (once a run) when a worker ran other code than this client: its records would be
        run again by every later run from here."""
        from wsbench.experiments.code_identity import stale_reason, trial_code

        why = stale_reason(rec.code, trial_code(t)) if rec.ok and "code" not in self.warned else None
        if why:
            self.warned.add("code")
            self.say(f"warning: a worker ran other code than this client ({why.removeprefix('made by ')}); "
                     f"its records will be run again by the next run from here: install the same "
                     f"wsbench and libraries on the workers")

    def _check_model(self, t: Trial, model: str | None) -> None:
        """Before a task's first record is written: the folder's trials used the same weights."""
        if model and t.task.label not in self.checked:
            runner._check_same_model(self.store.root, self.finished.values(), t, model)
            self.checked.add(t.task.label)

    def _release_if_unused(self, label: str) -> None:
        if not self.busy.get(label) and not self.planned.get(label):
            self._release(label)

    def _release(self, label: str) -> None:
        """Free a task's data and facts on the workers: none of its work is left."""
        future = self.data.pop(label, None)
        if future is None:
            return
        self.executor.release(future)
        for key in [k for k in self.facts if k[0] == content_key(**self._task_identity(label))]:
            self.executor.release(self.facts.pop(key))

    def _task_identity(self, label: str) -> dict[str, Any]:
        return next(t.identity() for t in self.exp.tasks if t.label == label)
