"""What an NNC bitstream declares, read from its unit headers before nncodec decodes it.

Why: a zero row costs DeepCABAC one flag, so 44 bytes of NNC can declare 33.5M weights, and
``nncodec.nnc.decompress`` allocates (and fills) every declared tensor before anything can
compare it with the model it should be: a 488-byte file took 1.16 GB. :func:`declared_values`
walks the units with nncodec's own header parser, one unit's bytes at a time, and adds up the
dimensions of every tensor; the caller refuses a bitstream declaring more values than the file
may hold before decoding it. Data units whose sizes are not in their own header (blocks of
several tensors, decomposed tensors, dimensions left to the decoder) are refused: wsbench's
writer (:mod:`wsbench_plugins.nncodec_adapter`) never makes them.
"""

from __future__ import annotations

import math
from typing import Any

from wsbench.errors import FormatError


def _unit_size(data: bytearray, pos: int) -> int:
    """``nnr_unit_size`` (it counts its own 2 or 4 bytes): 15 bits, or 31 after a set flag."""
    if pos + 2 > len(data):
        raise FormatError("corrupt NNC bitstream: a unit is cut short")
    if data[pos] >> 7:
        return int.from_bytes(data[pos:pos + 4], "big") & 0x7FFFFFFF
    return int.from_bytes(data[pos:pos + 2], "big") & 0x7FFF


def _tensor_values(unit: dict[str, Any], hls: Any) -> int:
    """The values one data unit declares, or FormatError where its header does not say."""
    if (unit.get("nnr_multiple_topology_elements_present_flag") != 0
            or unit.get("input_parameters_present_flag") != 1
            or unit.get("tensor_dimensions_flag") != 1
            or unit.get("compressed_parameter_types", 0) & hls.BlockParameterTypes.NNR_CPT_DC):
        raise FormatError("an NNC data unit does not declare its tensor's size (wsbench never "
                          "writes such units)")
    dims = [int(v) for v in unit.get("tensor_dimensions", [])]
    if not dims or min(dims) < 1:
        raise FormatError("an NNC data unit declares an empty tensor")
    return math.prod(dims)


def declared_values(bitstream: bytes | bytearray) -> int:
    """The number of values the data units of ``bitstream`` declare, summed over its tensors;
    a malformed unit header is a FormatError."""
    from nncodec.nnc_core import hls

    data, pos, context, total = bytearray(bitstream), 0, {}, 0
    while pos < len(data):
        size = _unit_size(data, pos)
        if size < 2 or pos + size > len(data):
            raise FormatError(f"corrupt NNC bitstream: a unit of {size} bytes at byte {pos}")
        unit = dict(context)
        reader = hls.BitReader(bytearray(data[pos:pos + size]))  # this unit only: no quadratic copy
        parts = hls.decode_nnr_unit_size_and_header(reader, unit)
        next(parts)  # the unit's size and type
        kind = unit["nnr_unit_type"]
        if kind == hls.NnrUnitType.NNR_NDU:
            next(parts)  # the data unit's header up to its tensor dimensions
            total += _tensor_values(unit, hls)
        elif kind in (hls.NnrUnitType.NNR_STR, hls.NnrUnitType.NNR_MPS):
            for _ in parts:
                pass
            hls.decode_nnr_unit_payload(reader, unit)  # what later data units' headers need
            keys = ("general_profile_idc",) if kind == hls.NnrUnitType.NNR_STR else (
                "mps_topology_indexed_reference_flag", "mps_parent_signalling_enabled_flag")
            context.update({k: unit.get(k, 0) for k in keys})
        pos += size
    return total


def check_declared(bitstream: bytes | bytearray, max_values: int) -> None:
    """Refuse a bitstream declaring more than ``max_values`` values before it is decoded."""
    try:
        n = declared_values(bitstream)
    except FormatError:
        raise
    except (Exception, SystemExit) as exc:  # nncodec's parser ends bad input with asserts
        raise FormatError(f"corrupt NNC bitstream ({type(exc).__name__} in a unit header)") from None
    if n > max_values:
        raise FormatError(f"the NNC bitstream declares {n:,} values, the file's header "
                          f"{max_values:,}")
