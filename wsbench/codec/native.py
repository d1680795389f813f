"""Files in a codec's own coding (``native``): the payload of a space that is a whole codec
(e.g. an NNC bitstream) stored as the file's bitstream, decoded by that space plugin.

The file holds no codebook: the payload is the codec's whole description of the shared weights,
so its size is exactly what the codec would store. The header names the space (``codec``) and
the parameters its ``decode(header, payload, shared)`` needs (``native``).
"""

from __future__ import annotations

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


def header_fields(code: "NativeCode") -> dict[str, Any]:
    return {"codec": code.codec, "native": dict(code.header)}


def check(header: dict) -> None:
    """What :mod:`wsbench.codec.fileformat_checks` checks of a native file's own fields."""
    if not isinstance(header.get("codec"), str) or not header["codec"]:
        raise FormatError("a native file's header must name its codec")
    if not isinstance(header.get("native"), dict):
        raise FormatError("a native file's header field 'native' must be an object")


def decode(header: dict, tensors: dict[str, "torch.Tensor"]) -> "torch.Tensor":
    """The pooled shared weights, from the space plugin the header names."""
    import torch

    from wsbench import plugins

    payload = tensors["bitstream"].numpy().tobytes()[:(header["n_bits"] + 7) // 8]
    shared = [(n, tuple(s), dt) for n, s, dt in header["shared"]]
    try:
        space = plugins.create("space", header["codec"])
        flat = space.decode(header["native"], payload, shared)
    except FormatError:
        raise
    except WsbenchError as exc:
        raise FormatError(f"cannot decode codec {header['codec']!r}: {exc}") from None
    flat = torch.as_tensor(flat, dtype=torch.float32).reshape(-1)
    if flat.numel() != header["n_weights"] or not bool(torch.isfinite(flat).all()):
        raise FormatError(f"codec {header['codec']!r} decoded {flat.numel()} values (finite: "
                          f"{bool(torch.isfinite(flat).all())}), the file holds {header['n_weights']}")
    return flat
