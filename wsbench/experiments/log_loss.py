"""Cross-entropy of a compressed model, in bits per prediction, beside its metric.

Accuracy counts only the top prediction; a language model is judged by how much probability it
gives the right next character, in bits per character (bpc). For a character-level model the
bits per prediction computed here *are* its bits per character (every position of a window is
one prediction); for a classifier they are its log loss in bits. ``wsbench compress`` writes them
for the baseline and each saved solution (``run.json``, ``front.csv``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsbench.search.fitness import FitnessHarness
    from wsbench.codec.quantization import Quantization


def bits_per_prediction(h: "FitnessHarness", split: str) -> float:
    """Mean cross-entropy of the harness' model as it is now on ``split``, in bits."""
    import torch

    logits = h.predict(split, logits=True).float()
    y = h.splits[split][1]
    nats = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
    return float(nats) / max(y.numel(), 1) / math.log(2)


def solution_bits(h: "FitnessHarness", q: "Quantization") -> dict[str, float]:
    """Validation and test bits per prediction of ``q``'s weights (the model restored after)."""
    try:
        h.write_quantization(q)
        return {split: bits_per_prediction(h, split) for split in ("val", "test")}
    finally:
        h.view.restore()


def baseline_bits(h: "FitnessHarness") -> dict[str, float]:
    h.view.restore()
    return {split: bits_per_prediction(h, split) for split in ("val", "test")}
