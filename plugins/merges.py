"""Built-in merge strategies: none, and the paper's left-to-right neighbour merge."""

from __future__ import annotations

from wsbench.errors import ConfigError
from wsbench.hookspecs import hookimpl
from wsbench.merge import MergeResult, Scorer
from wsbench.quantization import Quantization


class NoMerge:
    name = "none"

    def merge(self, q: Quantization, score: Scorer) -> MergeResult:
        s = score(q.dequantize())
        return MergeResult(q, 1, s, s)


class NeighborMerge:
    """One left-to-right pass; at each bin try merging with its left and its right neighbour.

    The merged value is the mean of the union (count-weighted mean of the two values), so it
    stays each bin's members' mean. The better candidate is kept when its validation score is
    at least the current score minus ``tolerance`` and at least the starting score minus
    ``tolerance``: the total drop is bounded by ``tolerance`` (0: the paper's "no drop").
    """

    name = "neighbor"

    def __init__(self, tolerance: float = 0.0) -> None:
        if not tolerance >= 0:
            raise ConfigError(f"merge tolerance must be >= 0, got {tolerance!r}")
        self.tolerance = float(tolerance)

    def merge(self, q: Quantization, score: Scorer) -> MergeResult:
        import torch

        order = torch.argsort(q.codebook)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order), device=order.device)
        indices = rank[q.indices]  # bins relabelled in ascending value order
        counts = torch.bincount(indices, minlength=q.d).to(torch.float64).tolist()
        sums = [v * c for v, c in zip(q.codebook[order].to(torch.float64).tolist(), counts)]
        group_of = torch.arange(q.d, device=indices.device)
        sizes = [1] * q.d  # original bins per group, groups in ascending order

        def candidate(g: int) -> tuple[torch.Tensor, list[float], list[float], list[int]]:
            """Group mapping and values after merging groups g and g + 1."""
            s = sums[:g] + [sums[g] + sums[g + 1]] + sums[g + 2:]
            c = counts[:g] + [counts[g] + counts[g + 1]] + counts[g + 2:]
            z = sizes[:g] + [sizes[g] + sizes[g + 1]] + sizes[g + 2:]
            mapping = torch.repeat_interleave(torch.arange(len(z), device=indices.device),
                                              torch.tensor(z, device=indices.device))
            return mapping, s, c, z

        def values(s: list[float], c: list[float]) -> torch.Tensor:
            return torch.tensor([a / b for a, b in zip(s, c)], dtype=torch.float32,
                                device=q.codebook.device)

        initial = current = score(values(sums, counts)[group_of[indices]])
        evaluations = 1
        g = 0
        while g < len(sizes):
            tried = []
            for left in (g - 1, g):
                if 0 <= left < len(sizes) - 1:
                    mapping, s, c, z = candidate(left)
                    tried.append((score(values(s, c)[mapping[indices]]), left, mapping, s, c, z))
                    evaluations += 1
            if not tried:
                break
            best = max(tried, key=lambda t: t[0])
            if best[0] >= max(current, initial) - self.tolerance:
                current, left, group_of, sums, counts, sizes = best
                g = g if left == g - 1 else g + 1
            else:
                g += 1
        merged = Quantization(codebook=values(sums, counts), indices=group_of[indices], k=q.k)
        return MergeResult(merged, evaluations, initial, current)


@hookimpl
def wsbench_register_merges(register) -> None:
    register("none", NoMerge, "No merging: the searched codebook as it is.")
    register("neighbor", NeighborMerge,
             "Paper's left-to-right pass merging a bin with a neighbour when validation does not "
             "drop by more than `tolerance` (default 0).")
