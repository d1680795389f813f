"""Files in a codec's own coding (``native``): the payload of a space that is a whole codec
(e.g. an NNC bitstream) stored as the file's bitstream, decoded by that space plugin.

The file holds no codebook: the payload is the codec's whole description of the shared weights,
so its size is exactly what the codec would store. The header names the space (``codec``) and
the parameters its ``decode(header, payload, shared)`` needs (``native``). A codec that codes the
non-shared tensors too (``NativeCode.rest``: biases, norms, as NNC does) returns ``(flat, rest)``
from its decoder; the header's ``native_rest`` gives their shapes and dtypes back. A decoder
that accepts a keyword ``max_values`` gets the most values the file may decode to (shared and
rest), so that it can refuse a payload declaring more before it allocates them.
"""

from __future__ import annotations

import inspect
import math
from typing import TYPE_CHECKING, Any

from wsbench.errors import ConfigError, FormatError, WsbenchError

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import NativeCode, Quantization


def code_of(q: "Quantization") -> "NativeCode":
    """The quantization's own coding, or one clear error when its space is not a codec."""
    if q.native is None:
        raise ConfigError("coding native needs a space that codes its own quantizations "
                          "(e.g. nncodec) and merge none (a merge drops the codec's coding)")
    return q.native


def header_fields(code: "NativeCode", rest: dict[str, "torch.Tensor"]) -> dict[str, Any]:
    """The header fields of a native file; ``rest`` the model's non-shared tensors."""
    missing = [n for n in code.rest if n not in rest]
    if missing:
        raise ConfigError(f"codec {code.codec!r} codes tensor {missing[0]!r}, which the model lacks")
    return {"codec": code.codec, "native": dict(code.header),
            "native_rest": [[n, list(rest[n].shape), str(rest[n].dtype).removeprefix("torch.")]
                            for n in code.rest]}


def check(header: dict) -> None:
    """What :mod:`wsbench.codec.fileformat_checks` checks of a native file's own fields."""
    if not isinstance(header.get("codec"), str) or not header["codec"]:
        raise FormatError("a native file's header must name its codec")
    if not isinstance(header.get("native"), dict):
        raise FormatError("a native file's header field 'native' must be an object")
    rows = header.get("native_rest", [])
    if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and isinstance(r[1], list)
            and all(isinstance(v, int) and v >= 0 for v in r[1]) and isinstance(r[2], str)
            for r in rows):
        raise FormatError("a native file's header field 'native_rest' must list [name, shape, dtype]")


def decode(header: dict, tensors: dict[str, "torch.Tensor"]
           ) -> tuple["torch.Tensor", dict[str, "torch.Tensor"]]:
    """The pooled shared weights and the rest the payload codes, from the space plugin the
    header names."""
    import torch

    from wsbench import plugins

    payload = tensors["bitstream"].numpy().tobytes()[:(header["n_bits"] + 7) // 8]
    shared = [(n, tuple(s), dt) for n, s, dt in header["shared"]]
    try:
        space = plugins.create("space", header["codec"])
        decoder = getattr(space, "decode", None)
        if not callable(decoder):
            raise FormatError(f"the header names space {header['codec']!r}, which is not a codec "
                              f"(it cannot decode a payload)")
        out = decoder(header["native"], payload, shared, **_bound(decoder, header))
    except FormatError:
        raise
    except WsbenchError as exc:
        raise FormatError(f"cannot decode codec {header['codec']!r}: {exc}") from None
    flat, rest = split_decoded(out)
    flat = torch.as_tensor(flat, dtype=torch.float32).reshape(-1)
    if flat.numel() != header["n_weights"] or not bool(torch.isfinite(flat).all()):
        raise FormatError(f"codec {header['codec']!r} decoded {flat.numel()} values (finite: "
                          f"{bool(torch.isfinite(flat).all())}), the file holds {header['n_weights']}")
    return flat, _rest(header, rest)


def _bound(decoder: Any, header: dict) -> dict[str, int]:
    """``max_values`` (what the header declares, shared and rest) for a decoder that takes it."""
    try:
        takes = "max_values" in inspect.signature(decoder).parameters
    except (TypeError, ValueError):  # no signature to read
        takes = False
    rest = sum(math.prod(shape) for _, shape, _ in header.get("native_rest", []))
    return {"max_values": header["n_weights"] + rest} if takes else {}


def split_decoded(out: Any) -> tuple[Any, dict[str, Any]]:
    """A codec decoder's answer as ``(flat, rest)``: it returns the flat shared weights, or
    ``(flat, {name: array})`` when its payload codes the rest too."""
    return out if isinstance(out, tuple) else (out, {})


def _rest(header: dict, decoded: dict) -> dict[str, "torch.Tensor"]:
    """The non-shared tensors the payload codes, at the shapes and dtypes the header gives."""
    import numpy as np
    import torch

    out = {}
    for name, shape, dtype in header.get("native_rest", []):
        if name not in decoded:
            raise FormatError(f"codec {header['codec']!r} did not decode tensor {name!r}")
        a = np.asarray(decoded[name])
        if a.size != int(np.prod(shape)) or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            raise FormatError(f"codec {header['codec']!r} decoded tensor {name!r} to bad values")
        out[name] = torch.from_numpy(a.copy()).reshape(tuple(shape)).to(getattr(torch, dtype))
    return out
