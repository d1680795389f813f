"""Training a character-level language model on Tiny Shakespeare's training split, on a CPU.

Deterministic on one machine: one torch thread, deterministic algorithms, seeded
initialisation and seeded random windows. AdamW with a linear warm-up and a cosine decay,
gradients clipped at 1. The recipe of each shipped model is in ``RECIPES``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Recipe:
    steps: int
    batch: int = 64
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.01
    version: int = 1  # raise when the loop changes what it trains


RECIPES = {"gru": Recipe(steps=3000, lr=3e-3), "transformer": Recipe(steps=2400, lr=2e-3)}


def evaluate(model, x, y, batch: int = 256) -> dict[str, float]:
    """Next-character accuracy and bits per character of ``model`` on windows ``x`` -> ``y``."""
    import torch
    import torch.nn.functional as F

    correct, nats = 0, 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
            nats += float(F.cross_entropy(logits, y[i:i + batch], reduction="sum"))
    return {"accuracy": correct / y.numel(), "bits_per_char": nats / y.numel() / math.log(2)}


def train_lm(model, train_ids, recipe: Recipe, context: int, seed: int,
             progress: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train ``model`` in place on random windows of ``train_ids``; the loop's facts."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    data = torch.as_tensor(train_ids)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay,
                            betas=(0.9, 0.99))

    def lr_at(step: int) -> float:
        if step < recipe.warmup:
            return recipe.lr * (step + 1) / recipe.warmup
        frac = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
        return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    model.train()
    t0, loss_value = time.perf_counter(), float("nan")
    for step in range(recipe.steps):
        starts = torch.as_tensor(rng.integers(0, len(data) - context - 1, recipe.batch))
        idx = starts[:, None] + torch.arange(context + 1)
        chunk = data[idx]
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = F.cross_entropy(model(chunk[:, :-1]), chunk[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            from wsbench.errors import WsbenchError

            raise WsbenchError(f"training diverged at step {step} (loss {loss_value})")
        if progress is not None:
            progress(step, loss_value)
    model.eval()
    return {"recipe": asdict(recipe), "final_train_loss": loss_value,
            "train_seconds": time.perf_counter() - t0}
