"""Running groups of trials that share a harness, for :func:`wsbench.experiments.runner.run_experiment`.

The harness (trained model, data, quantizer, space) is built once per group; each trial is
claimed (:mod:`wsbench.experiments.claims`) before it runs, so processes sharing a results folder never run
one trial twice, and the exact front is locked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from wsbench.experiments import runner
from wsbench.experiments.claims import Claims
from wsbench.experiments.experiment import Experiment, Trial
from wsbench.experiments.records import TrialRecord
from wsbench.experiments.store import ResultsStore
from wsbench.experiments.trial import HarnessFacts, harness_facts, run_trial


@dataclass
class GroupRunner:
    """One run's state while it works through groups of trials sharing a harness."""

    exp: Experiment
    store: ResultsStore
    done: set[str]
    finished: dict[str, TrialRecord]
    summary: runner.RunSummary
    bar: Any
    say: Callable[[str], None]
    progress: bool
    claims: Claims
    data_cache: dict[str, Any] = field(default_factory=dict)

    def groups(self, trials: list[Trial]) -> None:
        groups = runner.by_harness(trials)
        for group in groups.values():
            self.group(group)
            if runner._last_of_task(groups, group):  # free the task's model and data
                self.data_cache.pop(group[0].task.label, None)

    def group(self, group: list[Trial]) -> None:
        exp, store, summary, say = self.exp, self.store, self.summary, self.say
        pending = [t for t in group if t.key not in self.done and self.claims.free(t)]
        need_exact = exp.exact_enabled and not store.has_exact(exp, group[0])
        if not pending and not need_exact:
            return
        try:
            h = runner.harness(exp, group[0], self.data_cache, self.progress)
        except Exception as exc:  # noqa: BLE001 - recorded, the other groups still run
            if not pending:
                say(f"no exact front for {group[0].task.label}/{group[0].space.label}: {exc}")
            for t in pending:
                lock = self.claims.claim(t)  # never write over what another process wrote
                if lock is not None:
                    with lock:
                        runner._fail(store, t, exc, summary, say)
                self.bar.update()
            return
        runner._check_same_model(store.root, self.finished.values(), group[0], h.view.fingerprint())
        facts = harness_facts(h, group[0].quantizer.name) if pending else None
        if need_exact:
            self.exact(group[0], h)
        memo: dict[str, Any] = {}
        for t in pending:
            lock = self.claims.claim(t)
            if lock is not None:
                with lock:
                    self.trial(t, h, facts, memo)
            self.bar.update()

    def exact(self, trial: Trial, h) -> None:
        lock = self.store.lock_exact(self.exp, trial)
        if lock is None:  # another process is computing it
            return
        with lock:
            if self.store.has_exact(self.exp, trial):
                return
            runner.say_stale_exact(self.store, self.exp, trial, self.say)
            try:
                self.summary.evaluations += runner._exact(self.exp, trial, h, self.store,
                                                          self.progress, self.say, self.summary)
            except Exception as exc:  # noqa: BLE001 - no file: the next run tries again
                self.say(f"exact front of {trial.task.label}/{trial.space.label} failed: "
                         f"{type(exc).__name__}: {exc}")
                self.summary.no_exact.append(f"{trial.task.label}/{trial.space.label}: failed: "
                                             f"{type(exc).__name__}: {exc}")

    def trial(self, t: Trial, h, facts: HarnessFacts, memo: dict) -> None:
        summary = self.summary
        try:
            rec = run_trial(t, h, facts, memo, self.progress).record
        except Exception as exc:  # noqa: BLE001 - one failing plugin must not stop the rest
            runner._fail(self.store, t, exc, summary, self.say)
            return
        self.store.write_trial(rec)
        if not rec.ok:
            summary.skipped.append((t.id, rec.reason))
            self.say(f"skipped {t.optimizer.label} on space {t.space.label}: {rec.reason}")
        else:
            summary.ran += 1
            summary.evaluations += rec.unique
