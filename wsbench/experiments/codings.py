"""The codings a solution's size is recorded in, and the record keys each one owns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Coding(StrEnum):
    """How a solution's indices are coded; owns the record keys of each coding's sizes."""

    FIXED = "fixed"                # fixed width ceil(log2 d): no file is written in it
    HUFFMAN = "huffman"            # one Huffman table over all weights, as the paper
    LAYER = "huffman-layer"        # one Huffman table per tensor over the same codebook
    ADAPTIVE = "adaptive"          # context-adaptive binary arithmetic coding (codec/adaptive.py)
    NATIVE = "native"              # a codec space's own payload (e.g. an NNC bitstream)

    @property
    def bits_key(self) -> str:
        return _KEYS[self][0]

    @property
    def cr_paper_key(self) -> str:
        return _KEYS[self][1]

    @property
    def cr_file_key(self) -> str | None:
        """None for the fixed-width coding: its files are not written, so it has no file CR."""
        return _KEYS[self][2]


_KEYS = {Coding.FIXED: ("bits_fixed", "cr_paper_fixed", None),
         Coding.HUFFMAN: ("bits_huffman", "cr_paper", "cr_file"),
         Coding.LAYER: ("bits_layer", "cr_paper_layer", "cr_file_layer"),
         Coding.ADAPTIVE: ("bits_adaptive", "cr_paper_adaptive", "cr_file_adaptive"),  # added later
         Coding.NATIVE: ("bits_native", "cr_paper_native", "cr_file_native")}
SIZE_KEYS = {key: (c, attr) for c, keys in _KEYS.items()  # key -> (coding, CodedSize attribute)
              for key, attr in zip(keys, ("bits", "cr_paper", "cr_file")) if key}
# the order keys have always been written in (records stay byte-identical)
SOLUTION_ORDER = ("x", "k", "d", "val", "test", "bits_fixed", "bits_huffman", "cr_paper", "cr_file",
                  "cr_paper_fixed", "file_bytes", "bits_layer", "cr_paper_layer", "cr_file_layer",
                  "d_before", "bits_adaptive", "cr_paper_adaptive", "cr_file_adaptive",
                  "bits_native", "cr_paper_native", "cr_file_native", "val_se")



@dataclass(frozen=True)
class CodedSize:
    """A solution's size under one coding: mean index bits, paper CR and whole-file CR."""

    bits: float
    cr_paper: float
    cr_file: float | None = None
