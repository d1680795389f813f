"""Many candidate weight vectors through one model in a single vmapped forward.

Kept apart from the harness because it is a second way of running the model, chosen by
``population_eval``: ``torch.func.functional_call`` over stacked weights, which on CUDA scores a
population much faster than writing each candidate into the parameters in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ContextManager, Sequence

if TYPE_CHECKING:
    import torch

    from wsbench.codec.quantization import Quantization
    from wsbench.codec.weights import WeightView


class PopulationForward:
    """Predictions of ``model`` under each of several quantizations of ``view``'s parameters.

    The stacked weights live in one buffer reused (grown as needed) from call to call, so a
    search does not allocate a population's worth of weights per batch.
    """

    def __init__(self, model: "torch.nn.Module", view: "WeightView", device: "torch.device",
                 batched_images: int) -> None:
        self.model, self.view, self.device = model, view, device
        self.batched_images = int(batched_images)
        self._stack: "torch.Tensor | None" = None

    def stack(self, qs: Sequence["Quantization"]) -> "torch.Tensor":
        """Rows of dequantized weights (codebook[indices]), one per quantization."""
        import torch

        p, n = len(qs), self.view.numel
        if self._stack is None or self._stack.shape[0] < p:
            self._stack = torch.empty(p, n, dtype=self.view.original.dtype, device=self.device)
        stack = self._stack[:p]
        for row, q in zip(stack, qs):
            if q.indices.numel() != n:
                raise ValueError(f"vector has {q.indices.numel()} values, the view holds {n}")
            torch.index_select(q.codebook.to(stack.dtype), 0, q.indices.reshape(-1), out=row)
        return stack

    def predict(self, stack: "torch.Tensor", x: "torch.Tensor",
                autocast: ContextManager) -> "torch.Tensor":
        """Predicted classes (population, samples) of the model under each row of ``stack``."""
        import torch
        from torch.func import functional_call, vmap

        p = stack.shape[0]
        params, offset = {}, 0
        for name, t in zip(self.view.names, self.view.params):
            params[name] = stack[:, offset:offset + t.numel()].view(p, *t.shape).to(t.dtype)
            offset += t.numel()

        def predict_one(weights: dict, xb: "torch.Tensor") -> "torch.Tensor":
            return functional_call(self.model, weights, (xb,)).argmax(1)  # classes: dimension 1

        batched = vmap(predict_one, in_dims=(0, None))
        b = max(1, self.batched_images // p)
        with torch.inference_mode(), autocast:
            if len(x) <= b:
                return batched(params, x)
            return torch.cat([batched(params, x[i:i + b]) for i in range(0, len(x), b)], dim=1)
