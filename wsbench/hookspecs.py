"""Hook specifications: every plugin kind is registered through one ``wsbench_register_*`` hook.

A plugin module implements any of these hooks and calls ``register(name, factory, description)``
once per thing it provides. ``factory(**options)`` builds the object on demand, so registering
is cheap and heavy imports happen only when a plugin is actually used.
"""

from __future__ import annotations

from typing import Callable, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("wsbench")
hookimpl = pluggy.HookimplMarker("wsbench")


class Register(Protocol):
    def __call__(self, name: str, factory: Callable[..., object], description: str = "") -> None: ...


@hookspec
def wsbench_register_tasks(register: Register) -> None:
    """Register tasks: a trained model plus validation and test data."""


@hookspec
def wsbench_register_quantizers(register: Register) -> None:
    """Register quantizers: a weight vector and a size parameter to a codebook and indices."""


@hookspec
def wsbench_register_spaces(register: Register) -> None:
    """Register search spaces: how a decision vector becomes a quantized weight vector."""


@hookspec
def wsbench_register_optimizers(register: Register) -> None:
    """Register optimizers driven through ask/tell over a batch-evaluating problem."""


@hookspec
def wsbench_register_merges(register: Register) -> None:
    """Register merge strategies applied to each non-dominated solution."""


@hookspec
def wsbench_register_reporters(register: Register) -> None:
    """Register reporters that turn an experiment's results into documents."""


@hookspec
def wsbench_register_executors(register: Register) -> None:
    """Register executors: where an experiment's trials run (this process, a pool, a cluster)."""


KINDS: dict[str, str] = {
    "task": "wsbench_register_tasks",
    "quantizer": "wsbench_register_quantizers",
    "space": "wsbench_register_spaces",
    "optimizer": "wsbench_register_optimizers",
    "merge": "wsbench_register_merges",
    "reporter": "wsbench_register_reporters",
    "executor": "wsbench_register_executors",
}
