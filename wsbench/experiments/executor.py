"""The executor contract: where an experiment's work runs (plugin kind ``executor``).

The runner (:mod:`wsbench.experiments.dispatch`) cuts an experiment into tasks: loading a task's
data, a harness's shared facts, an exact front and one task per trial. An executor only runs
them: it starts and stops its workers, submits a function with its arguments and says which
submitted tasks have finished. It never touches the results folder; the runner writes every
file, so a worker needs no access to it. The built-ins are ``local`` (this process, one trial
after another), ``process`` (a local process pool) and ``dask`` (Dask distributed: a
``LocalCluster`` or a running scheduler); a new one is a plugin like any other kind.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Protocol


class TaskFuture(Protocol):
    """What :meth:`Executor.submit` returns: a handle on one task's result."""

    def done(self) -> bool: ...

    def result(self) -> Any: ...


class Executor:
    """Runs tasks; subclass it and register the class with ``wsbench_register_executors``.

    ``factory(workers=None, scheduler=None)`` builds it; options it cannot use are a
    :class:`~wsbench.errors.ConfigError` (one line), raised before anything runs.
    """

    name = "executor"
    #: run by the runner's one-trial-at-a-time loop in this process (nested progress bars,
    #: trials claimed as they start); such an executor's submit/wait are not used
    in_process = False

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def slots(self) -> int:
        """How many tasks can run at once (the runner keeps about twice that many in flight)."""
        return 1

    def submit(self, fn: Callable[..., Any], *args: Any, key: str,
               resources: dict[str, float] | None = None) -> TaskFuture:
        """Run ``fn(*args)`` as one task named ``key``. An argument may be a future this
        executor returned (shared work): the task gets its result. ``resources`` (e.g.
        ``{"GPU": 1}``) says what kind of worker the task needs, where workers differ."""
        raise NotImplementedError

    def wait(self, futures: Iterable[TaskFuture]) -> set[TaskFuture]:
        """Block until at least one of ``futures`` is done; the done ones."""
        raise NotImplementedError

    def release(self, future: TaskFuture) -> None:
        """The runner no longer needs ``future``'s result (shared data may be freed)."""

    def describe(self) -> dict[str, Any]:
        """What run.json records about where the run ran."""
        return {"name": self.name, "slots": self.slots()}


class WorkerLost(RuntimeError):
    """A task's worker died more often than the executor retries it."""


def executor_for(exp: Any) -> Executor:
    """The executor an experiment's ``[run]`` settings name (options checked, nothing started)."""
    from wsbench import plugins

    return plugins.create("executor", exp.executor, workers=exp.workers, scheduler=exp.scheduler)
