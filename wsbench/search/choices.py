"""The values the fitness harness accepts for its options, declared once: the harness checks
them, and :mod:`wsbench.settings` offers them to experiment files and command-line flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

SCREEN_DTYPES = ("float32", "bfloat16")         # dtype of the search's forwards (bf16 autocast)
POPULATION_EVALS = ("auto", "loop", "batched")  # one forward per candidate or one vmapped forward
SIZES = ("d", "bits")  # the size objective: shared values (the paper) or coded bits per weight
SIZE_CODINGS = ("huffman", "huffman-layer", "native")  # codings the bits objective can count


def resolve_device(device: str | None = None) -> "torch.device":
    """``None``/``"auto"``: CUDA when there is one, else CPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
