"""wsbench: retraining-free weight-sharing compression, benchmarked.

Everything a user or a plugin author needs is importable from here, as in pytest and llm::

    import wsbench

    @wsbench.hookimpl
    def wsbench_register_optimizers(register):
        register("my-search", MySearch, "what it does")

    class MySearch(wsbench.Optimizer): ...

Names are imported lazily so that ``import wsbench`` (and ``wsbench --help``) stays fast: torch
loads only when something that needs it is used. ARCHITECTURE.md maps the packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsbench.hookspecs import Register, hookimpl

__version__ = "0.1.0"

if TYPE_CHECKING:
    from wsbench.codec.compress import CompressedModel, compress_model, load_state_dict
    from wsbench.codec.load_model import load_model
    from wsbench.codec.merge import MergeResult, MergeStrategy, Scorer
    from wsbench.codec.quantization import NativeCode, Quantization, Quantizer, compact
    from wsbench.codec.weights import WeightView
    from wsbench.errors import ConfigError, PluginError, WsbenchError
    from wsbench.options import Range
    from wsbench.plugins import create, register, unregister
    from wsbench.search.optimizer import Optimizer, Problem
    from wsbench.search.pareto import non_dominated
    from wsbench.search.space import Space
    from wsbench.tasks.task import Task, TaskData

_LAZY = {
    # using compressed models
    "compress_model": "wsbench.codec.compress", "load_state_dict": "wsbench.codec.compress",
    "CompressedModel": "wsbench.codec.compress", "WeightView": "wsbench.codec.weights",
    "load_model": "wsbench.codec.load_model",
    # the contracts a plugin implements, one per plugin kind
    "Task": "wsbench.tasks.task", "TaskData": "wsbench.tasks.task",
    "Quantizer": "wsbench.codec.quantization", "Quantization": "wsbench.codec.quantization",
    "compact": "wsbench.codec.quantization", "NativeCode": "wsbench.codec.quantization",
    "Space": "wsbench.search.space",
    "Optimizer": "wsbench.search.optimizer", "Problem": "wsbench.search.optimizer",
    "MergeStrategy": "wsbench.codec.merge", "MergeResult": "wsbench.codec.merge",
    "Scorer": "wsbench.codec.merge", "non_dominated": "wsbench.search.pareto",
    # the registry (in-process plugins: tests, notebooks) and the errors a plugin may raise
    "register": "wsbench.plugins", "unregister": "wsbench.plugins", "create": "wsbench.plugins",
    "WsbenchError": "wsbench.errors", "ConfigError": "wsbench.errors",
    "PluginError": "wsbench.errors",
    # an option's allowed values: Annotated[int, Range(2, 100_000)] on a factory's parameter
    "Range": "wsbench.options",
}
__all__ = ["hookimpl", "Register", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wsbench' has no attribute {name!r}")
