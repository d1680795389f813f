"""The tasks an executor runs: what a worker computes, never what it writes.

Every function here is top-level and takes plain picklable values (the experiment, a trial,
results of earlier tasks), so any executor can ship it to another process or machine. Each
returns an :class:`Outcome`: a value, or the error and traceback of the plugin that raised, so
that one failing trial is recorded as failed and the rest go on; a task given a failed input
passes that failure on (a task that cannot load fails every trial of it with its cause).

Shared work is its own task, done once and handed to the tasks that need it: the task's data
(the trained model: loaded, or trained on first use, once), a harness's facts (baseline, UB
row, fingerprint) and the exact front. A worker keeps the harness it built for the next trial
of the same harness (one per thread: a harness writes weights into its own model copy).
"""

from __future__ import annotations

import copy
import threading
import traceback as tb
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsbench.experiments.experiment import Experiment, PluginSpec, Trial
    from wsbench.experiments.records import ExactRecord
    from wsbench.experiments.trial import HarnessFacts

HARNESSES_PER_THREAD = 2  # harnesses a worker thread keeps (trials of two groups interleaved)
_local = threading.local()


@dataclass
class Outcome:
    """A task's value, or why it failed (the exception's first line and its traceback)."""

    value: Any = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, exc: BaseException) -> "Outcome":
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        return cls(error=msg, traceback="".join(tb.format_exception(exc)))


@dataclass
class SharedData:
    """A task's loaded data with a name that identifies it on every worker."""

    key: str
    data: Any  # wsbench.tasks.task.TaskData


def _guard(fn, *inputs: Outcome):
    """``fn(*values)`` as an Outcome; a failed input is passed on, an exception recorded."""
    for given in inputs:
        if not given.ok:
            return given
    try:
        return Outcome(fn(*(given.value for given in inputs)))
    except Exception as exc:  # noqa: BLE001 - a plugin's failure belongs to its task
        return Outcome.failed(exc)


def load_data(task: "PluginSpec", key: str) -> Outcome:
    """Load (or train on first use) a task's model and splits: once per run and task."""
    return _guard(lambda: SharedData(key, task.create().load(progress=False)))


def facts(data: Outcome, trial: "Trial", device: str | None, threads: int | None) -> Outcome:
    """Baseline scores, UB row and weights' fingerprint of ``trial``'s harness."""
    from wsbench.experiments.trial import harness_facts

    def run(shared: SharedData) -> "HarnessFacts":
        with torch_threads(threads):
            h, _ = harness(shared, trial, device)
            return harness_facts(h, trial.quantizer.name)
    return _guard(run, data)


def exact(data: Outcome, exp: "Experiment", trial: "Trial", device: str | None,
          threads: int | None) -> Outcome:
    """The exact front of ``trial``'s task/space/quantizer: (ExactRecord, evaluations)."""
    def run(shared: SharedData) -> tuple["ExactRecord", int]:
        with torch_threads(threads):
            h, _ = harness(shared, trial, device)
            return exact_record(exp, trial, h, progress=False)
    return _guard(run, data)


def trial_record(data: Outcome, facts_: Outcome, trial: "Trial", device: str | None,
                 threads: int | None) -> Outcome:
    """One trial's record (not written: the runner writes it)."""
    from wsbench.experiments.trial import run_trial

    def run(shared: SharedData, known: "HarnessFacts"):
        with torch_threads(threads):
            h, memo = harness(shared, trial, device)
            return run_trial(trial, h, known, memo, progress=False).record
    return _guard(run, data, facts_)


def harness(shared: SharedData, trial: "Trial", device: str | None):
    """This thread's harness for ``trial`` on ``shared`` data (built on first use, on its own
    copy of the model), with the merge memo of its trials."""
    from wsbench.experiments.trial import build_harness
    from wsbench.files.cache import content_key

    cache = getattr(_local, "harnesses", None)
    if cache is None:
        cache = _local.harnesses = OrderedDict()
    key = (shared.key, device, content_key(**{k: v for k, v in trial.config().items()
                                              if k not in ("optimizer", "merge", "seed")}))
    if key not in cache:
        data = replace(shared.data, model=copy.deepcopy(shared.data.model))
        cache[key] = (build_harness(trial, device, data=data, progress=False), {})
        while len(cache) > HARNESSES_PER_THREAD:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def forget_harnesses() -> None:
    """Drop this thread's harnesses (an in-process run frees them when it ends)."""
    _local.harnesses = OrderedDict()


def exact_record(exp: "Experiment", trial: "Trial", h, progress: bool) -> tuple["ExactRecord", int]:
    """Enumerate the whole space when exhaustive accepts it: the exact front's record (with the
    reason when there is none) and the unique evaluations it took."""
    from wsbench import plugins
    from wsbench.experiments.code_identity import exact_code
    from wsbench.experiments.experiment import Trial
    from wsbench.experiments.provenance import run_info
    from wsbench.experiments.records import ExactRecord
    from wsbench.experiments.store import exact_key
    from wsbench.experiments.trial import search

    rec = ExactRecord(exact_key(exp, trial), trial.task.as_dict(), trial.space.as_dict(),
                      trial.quantizer.as_dict(), exp.metric, exp.include, "unavailable",
                      trial.screening(), h.view.fingerprint(), code=exact_code(trial).to_dict())
    exhaustive = plugins.create("optimizer", "exhaustive", max_points=exp.exact_max_points)
    h.reset()
    rec.reason = exhaustive.check(h)
    if rec.reason:
        return rec, 0
    size = int(h.space_size)
    exact_trial = Trial(trial.task, trial.space, trial.quantizer, trial.optimizer, trial.merge,
                        0, size, None, exp.metric, exp.include, 0.0, trial.fidelity, trial.screen_dtype)
    rec.seconds = search(h, exhaustive, exact_trial, size, progress,
                         f"exact front {trial.task.label}/{trial.space.label}/{trial.quantizer.label}")
    X, F = h.archive_arrays()
    FX, FF = h.front()
    rec.status, rec.reason, rec.points = "ok", None, size
    rec.x, rec.f, rec.front_x, rec.front_f = X.tolist(), F.tolist(), FX.tolist(), FF.tolist()
    rec.provenance = run_info(rec.head(), 0)
    h.view.restore()
    return rec, h.unique


class torch_threads:
    """Set torch's intra-op threads for a block (one thread is much faster on a loaded machine)."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, None

    def __enter__(self) -> "torch_threads":
        if self.n:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.old:
            import torch

            torch.set_num_threads(self.old)
