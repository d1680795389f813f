"""Executor ``dask``: an experiment's trials on a Dask distributed cluster (extra ``cluster``).

With ``scheduler`` it connects to a running ``dask scheduler`` (workers started with ``dask
worker``, each with wsbench installed; GPU workers with ``--resources GPU=1``); without it, a
``LocalCluster`` of ``workers`` processes (default one per core) is started and closed. Dask
schedules: a task goes where its inputs are, a lost worker's tasks are run again elsewhere
(``distributed.scheduler.allowed-failures`` times), and a task that needs ``{"GPU": 1}`` waits
for a worker offering it. The connect timeout is Dask's ``distributed.comm.timeouts.connect``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from wsbench_plugins.executors import Workers

from wsbench import hookimpl
from wsbench.errors import ConfigError
from wsbench.experiments.executor import Executor

WAIT_FOR_WORKERS = 120.0  # seconds the client waits for the workers it was told to expect
MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
INSTALL = 'pip install -e ".[cluster]" (or pip install "wsbench[cluster]")'


class DaskExecutor(Executor):
    """A Dask client: on a running scheduler, or on a local cluster it starts and closes."""

    name = "dask"

    def __init__(self, workers: Workers = None, scheduler: str | None = None) -> None:
        try:
            import distributed  # noqa: F401 - only whether it is installed
        except ImportError:
            raise ConfigError(f"executor dask needs Dask distributed, which wsbench's extra "
                              f"'cluster' installs: {INSTALL}") from None
        self.workers, self.scheduler = workers, scheduler
        self.client: Any = None
        self.cluster: Any = None
        self.gpu_checked = False

    def __enter__(self) -> "DaskExecutor":
        from distributed import Client

        if self.scheduler:
            self.client = _connect(self.scheduler)
            self._wait_for_workers(self.workers or 1)
            return self
        self.cluster = _local_cluster(self.workers or os.cpu_count() or 1)
        self.client = Client(self.cluster, set_as_default=False)
        return self

    def _wait_for_workers(self, n: int) -> None:
        try:
            self.client.wait_for_workers(n, timeout=WAIT_FOR_WORKERS)
        except Exception:  # noqa: BLE001 - dask raises TimeoutError or OSError
            joined = len(self.client.scheduler_info().get("workers", {}))
            self.__exit__()
            raise ConfigError(f"scheduler {self.scheduler}: {joined} worker(s) joined in "
                              f"{WAIT_FOR_WORKERS:.0f} s, {n} expected (start them with "
                              f"`dask worker {self.scheduler} --nthreads 1`)") from None

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any, key: str,
               resources: dict[str, float] | None = None) -> Any:
        if resources and not self.gpu_checked:
            self._check_resources(resources)
        return self.client.submit(fn, *args, key=key, resources=resources, pure=False)

    def _check_resources(self, resources: dict[str, float]) -> None:
        """A task needing a resource no worker offers would wait forever: one line instead."""
        workers = self.client.scheduler_info().get("workers", {}).values()
        for name in resources:
            if not any(w.get("resources", {}).get(name) for w in workers):
                where = self.scheduler or "the local cluster (no CUDA device here)"
                raise ConfigError(f"device cuda: no worker of {where} offers resource {name} "
                                  f"(start GPU workers with `dask worker ADDRESS --nthreads 1 "
                                  f"--resources {name}=1`)")
        self.gpu_checked = True

    def wait(self, futures: Iterable[Any]) -> set[Any]:
        from distributed import wait

        with self.client.as_current():  # this client, not a default one
            return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def release(self, future: Any) -> None:
        future.release()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "slots": self.slots(),
                "scheduler": self.scheduler or "local cluster",
                "workers": len(self.client.scheduler_info().get("workers", {}))}


def _connect(address: str) -> Any:
    """A client of the scheduler at ``address``; one line when it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError (bad protocol)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"scheduler {address}: cannot reach a Dask scheduler there ({reason}); "
                          f"is `dask scheduler` running and reachable from here?") from None


def _local_cluster(n: int) -> Any:
    """``n`` worker processes of one thread each; each offers GPU=1 where CUDA is present.

    Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_`` in its workers, which turns off glibc's
    dynamic mmap threshold: every freed tensor above 128 kB goes back to the kernel and the
    next one page-faults anew. Measured here, that made a digits trial's evaluations 2.6x
    slower than in a plain process; the local cluster's workers are spawned without it.
    """
    import logging

    import dask
    import torch
    from distributed import LocalCluster

    resources = {"GPU": 1} if torch.cuda.is_available() else None
    with dask.config.set({MALLOC_TRIM: None}):  # None unsets it (distributed.nanny)
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                            dashboard_address=None, resources=resources,
                            silence_logs=logging.ERROR)


@hookimpl
def wsbench_register_executors(register) -> None:
    register("dask", DaskExecutor,
             "A Dask cluster: --scheduler ADDR, or a local cluster of --workers processes "
             "(extra 'cluster').")
