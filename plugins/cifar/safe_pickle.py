"""Reading the torchvision CIFAR batches without running the code a pickle can carry.

The official batches are pickles of dicts of bytes, ints, lists and one uint8 array, so
``pickle.load`` on a user-named folder would run whatever a crafted ``data_batch_1`` asks
(``os.system`` included). This unpickler resolves no global but numpy's array reconstruction,
and only for plain numeric dtypes; anything else is one ConfigError, before any call is made.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.errors import ConfigError
from wsbench.files.safe_io import read_regular_file

MAX_BATCH_BYTES = 1 << 30  # CIFAR-100's train file, the largest, is about 150 MB
_DTYPES = re.compile(r"[<>|=]?[biuf][1248]")  # plain numeric dtypes only (no objects, no records)


def _dtype(spec: Any, *args: Any) -> np.dtype:
    if isinstance(spec, bytes):  # a Python 2 pickle read with encoding="bytes"
        spec = spec.decode("latin1")
    if not isinstance(spec, str) or not _DTYPES.fullmatch(spec):
        raise pickle.UnpicklingError(f"dtype {spec!r} is not allowed in a CIFAR batch")
    return np.dtype(spec)


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's ``_reconstruct``, for a plain empty ndarray only (its data comes with BUILD)."""
    if subtype is not _NdarrayRef or shape != (0,):
        raise pickle.UnpicklingError("only plain numpy arrays are allowed in a CIFAR batch")
    return np.ndarray((0,), dtype=np.uint8)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """numpy's pickle-5 path: a typed view of bytes the file holds."""
    if not isinstance(buf, (bytes, bytearray)) or not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError("malformed array in a CIFAR batch")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 pickles bytes at protocol 2, and nothing else."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("only latin1 text is allowed in a CIFAR batch")
    return text.encode("latin1")


class _NdarrayRef:
    """Stands for ``numpy.ndarray`` as an argument; calling it (a crafted huge array) fails."""

    def __new__(cls, *args: Any, **kwargs: Any) -> None:
        raise pickle.UnpicklingError("numpy.ndarray cannot be called in a CIFAR batch")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NdarrayRef,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1,
}


class BatchUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a CIFAR batch needs (numpy arrays)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch") from None


def load_batch(path: Path) -> dict:
    """One batch file as the dict it holds; anything but plain data is a ConfigError."""
    raw = read_regular_file(path, ConfigError, "CIFAR batch file", limit=MAX_BATCH_BYTES)
    try:
        obj = BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - a crafted pickle can raise anything
        raise ConfigError(f"{path}: not a CIFAR batch file ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{path}: not a CIFAR batch file (holds a {type(obj).__name__}, not a dict)")
    return obj
