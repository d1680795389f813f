"""The MPEG NNC standard (ISO/IEC 15938-17) as a baseline codec, through Fraunhofer's ``nncodec``.

``encode(arrays, qp)`` codes a dict of numpy arrays (a state dict) into an NNC bitstream with
uniform quantization, dependent (trellis-coded) quantization and DeepCABAC, as
``nncodec.nnc.compress`` does; ``decode(bitstream)`` gives the arrays back
(``nncodec.nnc.decompress``). No calibration data and no training: the standard's core path.
The one decision is the quantization parameter ``qp``: the step is
``(4 + (qp & 3)) * 2 ** ((qp >> 2) - 2)``, i.e. ``2 ** (qp / 4)`` at multiples of 4; with
dependent quantization a reconstructed weight is within about 2 steps of the original.

Which tensors get ``qp``: those named in ``weights`` (wsbench's shared weights, the Conv/Linear
``.weight`` of :class:`wsbench.codec.weights.WeightView`, when the caller passes them), else
NNCodec's own rule for a dict, every tensor of two or more dimensions. Every other
floating-point tensor (biases, BatchNorm) is coded at ``nonweight_qp`` (NNCodec's default -75,
a step of 2.3e-6: near-lossless). Integer tensors are coded losslessly as int32. ``qp_per_tensor``
overrides any of these per tensor.

What the bitstream cannot say: NNC has no 0-d tensors and knows only float32 and int32, so a
scalar comes back with shape ``(1,)`` (``torch``'s ``load_state_dict`` accepts that for a 0-d
buffer), integers come back as int32 and float16/float64 as float32. NNCodec's PyTorch front end
leaves BatchNorm's ``num_batches_tracked`` counters out altogether; callers may do the same (each
coded tensor costs about 50 bytes of headers). An NNC bitstream carries no checksum: a flipped
bit is usually refused (the CABAC stream does not terminate), but not always, so a container
around it should add one.

nncodec is an optional extra (``pip install -e '.[nncodec]'``); it is imported inside the
functions, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from wsbench.errors import ConfigError, FormatError, ModelError

INSTALL_HINT = "install the extra: pip install -e '.[nncodec]'"
NONWEIGHT_QP = -75  # NNCodec's default for tensors that are not weights
QP_DENSITY = 2      # NNCodec's default: 4 quantization steps per doubling of the step size

_OPTIONS = {"weights", "nonweight_qp", "qp_per_tensor", "use_dq", "row_skipping", "param_opt"}


def available() -> bool:
    """Whether nncodec (with its compiled DeepCABAC extension) can be imported."""
    try:
        _nnc()
    except ConfigError:
        return False
    return True


def _nnc() -> Any:
    try:
        from nncodec import nnc
        from nncodec.extensions import deepCABAC  # noqa: F401  (the compiled part)
    except Exception as exc:  # ImportError, or a broken install (another numpy) failing inside
        raise ConfigError(f"the nncodec codec needs the nncodec package ({type(exc).__name__}: "
                          f"{exc}); {INSTALL_HINT}") from None
    return nnc


def step_size(qp: int, qp_density: int = QP_DENSITY) -> float:
    """The quantization step of ``qp`` (as DeepCABAC computes it)."""
    k = 1 << qp_density
    return float((k + (qp & (k - 1))) * 2.0 ** ((qp >> qp_density) - qp_density))


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    if not -1000 <= int(value) <= 1000:
        raise ConfigError(f"{what} must be in [-1000, 1000], got {value!r}")
    return int(value)


def _as_nnc_array(name: str, value: Any) -> np.ndarray:
    """``value`` as NNC can code it: a non-empty float32 or int32 array of >= 1 dimension."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"tensor names must be non-empty strings, got {name!r}")
    a = np.asarray(value)
    if a.size == 0:
        raise ConfigError(f"tensor {name!r} is empty; NNC cannot code an empty tensor")
    if a.dtype.kind == "f":
        a = a.astype(np.float32, copy=False)
        if not np.isfinite(a).all():
            raise ModelError(f"tensor {name!r} has NaN or inf values")
    elif a.dtype.kind in "iub":
        info = np.iinfo(np.int32)
        if a.dtype.kind != "b" and (a.min() < info.min or a.max() > info.max):
            raise ConfigError(f"tensor {name!r} has integers outside int32, which NNC cannot code")
        a = a.astype(np.int32, copy=False)
    else:
        raise ConfigError(f"tensor {name!r} has dtype {a.dtype}; NNC codes floats and integers")
    return np.ascontiguousarray(a.reshape(1) if a.ndim == 0 else a)


def _qps(arrays: Mapping[str, np.ndarray], qp: int, weights: Iterable[str] | None,
         nonweight_qp: int, qp_per_tensor: Mapping[str, int] | None) -> dict[str, int]:
    if weights is None:
        coarse = {n for n, a in arrays.items() if a.ndim > 1}
    else:
        if isinstance(weights, str):
            raise ConfigError("weights must be a collection of tensor names, not one string")
        coarse = set(weights)
        unknown = sorted(coarse - set(arrays))
        if unknown:
            raise ConfigError(f"weights names tensors that are not given: {', '.join(unknown[:3])}")
    qps = {n: (qp if n in coarse else nonweight_qp) for n in arrays}
    for n, v in (qp_per_tensor or {}).items():
        if n not in arrays:
            raise ConfigError(f"qp_per_tensor names a tensor that is not given: {n!r}")
        qps[n] = _int(v, f"qp_per_tensor[{n!r}]")
    return qps


def _prepare(arrays: Mapping[str, Any], qp: int, options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ConfigError(f"unknown nncodec option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(_OPTIONS))}")
    if not isinstance(arrays, Mapping) or not arrays:
        raise ConfigError("nncodec codes a non-empty dict of arrays (name -> numpy array)")
    qp = _int(qp, "qp")
    nonweight_qp = _int(options.get("nonweight_qp", NONWEIGHT_QP), "nonweight_qp")
    params = {name: _as_nnc_array(name, value) for name, value in arrays.items()}
    qps = _qps(params, qp, options.get("weights"), nonweight_qp, options.get("qp_per_tensor"))
    return dict(parameter_dict=params, bitstream_path=None, qp=qp, qp_density=QP_DENSITY,
                nonweight_qp=nonweight_qp, qp_per_tensor=qps,
                use_dq=bool(options.get("use_dq", True)),
                row_skipping=bool(options.get("row_skipping", True)),
                param_opt=bool(options.get("param_opt", True)), verbose=False)


@contextlib.contextmanager
def _quiet():
    """NNCodec prints progress and numpy warnings; keep them out of wsbench's output."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
            np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def encode(arrays: Mapping[str, np.ndarray], qp: int, **options: Any) -> bytes:
    """An NNC bitstream of ``arrays`` (deterministic: the same input gives the same bytes).

    Options: ``weights`` (names coded at ``qp``; default: every tensor of >= 2 dimensions),
    ``nonweight_qp`` (-75), ``qp_per_tensor`` ({name: qp} overrides), ``use_dq`` (True:
    dependent quantization), ``row_skipping`` (True, as ``nncodec.nn.encode``), ``param_opt``
    (True). The bitstream is NNCodec's own, byte for byte: any NNC decoder reads it.
    """
    nnc = _nnc()
    kwargs = _prepare(arrays, qp, options)
    with _quiet():
        bitstream = nnc.compress(**kwargs, return_bitstream=True)
    return bytes(bitstream)


def reconstruct(arrays: Mapping[str, np.ndarray], qp: int, **options: Any) -> dict[str, np.ndarray]:
    """What ``decode(encode(arrays, qp, **options))`` gives, computed by the encoder alone."""
    nnc = _nnc()
    kwargs = _prepare(arrays, qp, options)
    with _quiet():
        rec = nnc.compress(**kwargs, quantize_only=True)
    return {name: np.asarray(rec[name]) for name in kwargs["parameter_dict"]}


def decode(bitstream: bytes, max_values: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of an NNC bitstream, in coding order; a bitstream that does not decode, or
    that declares more than ``max_values`` values (checked before any is allocated:
    :mod:`wsbench_plugins.nncodec_units`), is one :class:`~wsbench.errors.FormatError`."""
    if not isinstance(bitstream, (bytes, bytearray, memoryview)):
        raise FormatError(f"an NNC bitstream is bytes, got {type(bitstream).__name__}")
    nnc = _nnc()
    data = bytearray(bitstream)  # nncodec takes anything else for a file path
    if not data:
        raise FormatError("not an NNC bitstream: it is empty")
    if max_values is not None:
        from wsbench_plugins.nncodec_units import check_declared

        check_declared(data, max_values)
    try:
        with _quiet():
            decoded = nnc.decompress(data)
    except (Exception, SystemExit) as exc:  # nncodec ends bad input with asserts and SystemExit
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
        raise FormatError(f"corrupt or truncated NNC bitstream ({type(exc).__name__}: "
                          f"{detail[:200]})") from None
    out: dict[str, np.ndarray] = {}
    for name, value in decoded.items():
        a = np.asarray(value)
        if not isinstance(name, str) or a.dtype not in (np.float32, np.int32) or (
                a.dtype == np.float32 and not np.isfinite(a).all()):
            raise FormatError(f"corrupt NNC bitstream: tensor {name!r} decodes to bad values")
        out[name] = a
    if not out:
        raise FormatError("corrupt NNC bitstream: it holds no tensors")
    return out
