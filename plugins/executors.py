"""Built-in executors without extra dependencies: ``local`` (the default) and ``process``.

``local`` runs the trials one after another in this process, as wsbench always did. ``process``
runs them on a pool of local worker processes (``--workers N``, default one per core). A
worker that dies (killed, out of memory) breaks the pool: a new pool takes over and the tasks
that were running are submitted again, each at most ``RETRIES`` times.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from typing import Annotated, Any, Callable, Iterable

from wsbench import hookimpl
from wsbench.errors import ConfigError
from wsbench.experiments.executor import Executor, WorkerLost
from wsbench.options import Range
from wsbench.validate import MAX_WORKERS

Workers = Annotated[int | None, Range(1, MAX_WORKERS)]  # None: one per core

RETRIES = 3  # submissions of one task after the first, when its worker dies each time


class LocalExecutor(Executor):
    """This process, one trial after another (progress bars for each trial's search)."""

    name = "local"
    in_process = True

    def __init__(self, workers: Workers = None, scheduler: str | None = None) -> None:
        if workers not in (None, 1):
            raise ConfigError(f"workers = {workers}: executor local runs one trial at a time; "
                              f"use executor process or dask for more")
        _no_scheduler(self.name, scheduler)


class _Task:
    """A pool task with what is needed to submit it again after its worker died."""

    def __init__(self, fn: Callable[..., Any], args: tuple, key: str) -> None:
        self.fn, self.args, self.key = fn, args, key
        self.future: Future | None = None
        self.attempts = 0

    def done(self) -> bool:
        return self.future is not None and self.future.done()

    def result(self) -> Any:
        assert self.future is not None
        try:
            return self.future.result()
        except BrokenProcessPool as exc:
            raise WorkerLost(f"its worker process died {self.attempts} times ({exc})") from None


class ProcessExecutor(Executor):
    """A pool of local worker processes; each task's arguments are sent to it (a task's data
    travels with each of its trials: cheap next to a trial on this machine's models)."""

    name = "process"

    def __init__(self, workers: Workers = None, scheduler: str | None = None) -> None:
        _no_scheduler(self.name, scheduler)
        self.workers = int(workers or os.cpu_count() or 1)
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "ProcessExecutor":
        import multiprocessing

        # spawned, not forked: a fork of a process with torch's thread pools can hang
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:  # stopped by an error or Ctrl-C: do not wait for the trials
            self.pool.shutdown(wait=exc[0] is None if exc else True, cancel_futures=True)
            self.pool = None

    def slots(self) -> int:
        return self.workers

    def submit(self, fn: Callable[..., Any], *args: Any, key: str,
               resources: dict[str, float] | None = None) -> _Task:
        values = tuple(self._value(a) if isinstance(a, _Task) else a for a in args)
        task = _Task(fn, values, key)
        self._start(task)
        return task

    def _value(self, shared: _Task) -> Any:
        """The result of shared work a task needs (waited for here: it is sent along)."""
        from wsbench.experiments.work import Outcome

        while shared not in self.wait([shared]):  # blocks: a spin here took a core from the workers
            pass
        try:
            return shared.result()
        except WorkerLost as exc:
            return Outcome.failed(exc)

    def _start(self, task: _Task) -> None:
        assert self.pool is not None
        task.attempts += 1
        try:
            task.future = self.pool.submit(task.fn, *task.args)
        except BrokenProcessPool:
            self._renew()
            task.future = self.pool.submit(task.fn, *task.args)

    def wait(self, futures: Iterable[_Task]) -> set[_Task]:
        tasks = list(futures)
        while True:
            wait_futures([t.future for t in tasks], return_when=FIRST_COMPLETED)
            done = {t for t in tasks if t.done()}
            lost = [t for t in done if isinstance(t.future.exception(), BrokenProcessPool)
                    and t.attempts <= RETRIES]
            if not lost:
                return done
            self._renew()
            for t in lost:  # their worker died, or the pool broke under them: again
                self._start(t)

    def _renew(self) -> None:
        """A new pool in place of a broken one (its other tasks failed with it: retried too)."""
        old = self.pool
        self.__enter__()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "slots": self.workers}


def _no_scheduler(name: str, scheduler: str | None) -> None:
    if scheduler:
        raise ConfigError(f"scheduler = {scheduler!r}: only executor dask connects to a "
                          f"scheduler (executor is {name}; give --executor dask)")


@hookimpl
def wsbench_register_executors(register) -> None:
    register("local", LocalExecutor, "This process, one trial after another (default).")
    register("process", ProcessExecutor,
             "A pool of local worker processes (--workers N, default one per core).")

