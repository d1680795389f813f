"""wsbench: retraining-free weight-sharing compression, benchmarked.

The public API is imported lazily so that ``import wsbench`` (and ``wsbench --help``) stays
fast: torch loads only when a function that needs it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["compress_model", "load_state_dict", "CompressedModel", "WeightView", "__version__"]

if TYPE_CHECKING:
    from wsbench.compress import CompressedModel, compress_model, load_state_dict
    from wsbench.weights import WeightView

_LAZY = {"compress_model": "wsbench.compress", "load_state_dict": "wsbench.compress",
         "CompressedModel": "wsbench.compress", "WeightView": "wsbench.weights"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wsbench' has no attribute {name!r}")
