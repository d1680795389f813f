"""Built-in merge strategies: none, the paper's left-to-right neighbour merge, and a variant of
it that stops merging when a held-out half of the validation split stops agreeing."""

from __future__ import annotations

from typing import Iterator

from wsbench.errors import ConfigError
from wsbench.hookspecs import hookimpl
from wsbench.merge import MergeResult, Scorer
from wsbench.quantization import Quantization


class NoMerge:
    name = "none"

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        s = score(q.dequantize())
        return MergeResult(q, 1, s, s)


def _check_tolerance(tolerance: float) -> float:
    if not tolerance >= 0:
        raise ConfigError(f"merge tolerance must be >= 0, got {tolerance!r}")
    return float(tolerance)


def neighbor_pass(q: Quantization, score: Scorer, tolerance: float,
                  counter: list[int]) -> Iterator[tuple[Quantization, float]]:
    """The paper's pass; yields (quantization, score) first as given, then after each accepted merge.

    At each bin (ascending value order) merging with the left and with the right neighbour is
    scored; the better is kept when its score is at least max(current, initial) - tolerance.
    The merged value is the count-weighted mean of the two values, i.e. the mean of the union
    of their members. ``counter[0]`` counts the scorer's calls.
    """
    import torch

    order = torch.argsort(q.codebook)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=order.device)
    indices = rank[q.indices]  # bins relabelled in ascending value order
    counts = torch.bincount(indices, minlength=q.d).to(torch.float64).tolist()
    sums = [v * c for v, c in zip(q.codebook[order].to(torch.float64).tolist(), counts)]
    sizes = [1] * q.d  # original bins per group, groups in ascending order
    device = indices.device

    def values(s: list[float], c: list[float]) -> torch.Tensor:
        return torch.tensor([a / b for a, b in zip(s, c)], dtype=torch.float32, device=q.codebook.device)

    def mapping(z: list[int]) -> torch.Tensor:
        return torch.repeat_interleave(torch.arange(len(z), device=device), torch.tensor(z, device=device))

    def state(s, c, z) -> Quantization:
        return Quantization(codebook=values(s, c), indices=mapping(z)[indices], k=q.k)

    current = state(sums, counts, sizes)
    initial = best_score = score(current.dequantize())
    counter[0] += 1
    yield current, initial
    g = 0
    while g < len(sizes):
        tried = []
        for left in (g - 1, g):
            if 0 <= left < len(sizes) - 1:
                s = sums[:left] + [sums[left] + sums[left + 1]] + sums[left + 2:]
                c = counts[:left] + [counts[left] + counts[left + 1]] + counts[left + 2:]
                z = sizes[:left] + [sizes[left] + sizes[left + 1]] + sizes[left + 2:]
                cand = state(s, c, z)
                tried.append((score(cand.dequantize()), left, s, c, z, cand))
                counter[0] += 1
        if not tried:
            break
        new_score, left, s, c, z, cand = max(tried, key=lambda t: t[0])
        if new_score >= max(best_score, initial) - tolerance:
            best_score, sums, counts, sizes = new_score, s, c, z
            yield cand, new_score
            g = g if left == g - 1 else g + 1
        else:
            g += 1


class NeighborMerge:
    """The paper's merge: one left-to-right pass over the bins, accepted while validation holds.

    The total validation drop is bounded by ``tolerance`` (0: the paper's "no drop").
    """

    name = "neighbor"

    def __init__(self, tolerance: float = 0.0) -> None:
        self.tolerance = _check_tolerance(tolerance)

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        counter = [0]
        states = list(neighbor_pass(q, score, self.tolerance, counter))
        return MergeResult(states[-1][0], counter[0], states[0][1], states[-1][1])


class HoldoutNeighborMerge:
    """The paper's pass driven by one half of validation, stopped early by the other half.

    The paper's merge overfits its validation split (Table I: validation F1 rises while test F1
    falls). Here the pass is scored on ``score`` (the fitting half) and every accepted state is
    also scored on ``check`` (the held-out half); the result is the most merged state whose
    held-out score is at least the initial held-out score minus ``tolerance``.
    """

    name = "neighbor-holdout"
    needs_holdout = True

    def __init__(self, tolerance: float = 0.0) -> None:
        self.tolerance = _check_tolerance(tolerance)

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        if check is None:
            raise ConfigError("merge 'neighbor-holdout' needs a held-out scorer (check)")
        counter = [0]
        chosen = initial_check = initial_fit = None
        for cand, fit_score in neighbor_pass(q, score, self.tolerance, counter):
            held = check(cand.dequantize())
            counter[0] += 1
            if initial_check is None:
                initial_check, initial_fit = held, fit_score
            if held >= initial_check - self.tolerance:
                chosen = (cand, fit_score)
        return MergeResult(chosen[0], counter[0], initial_fit, chosen[1])


@hookimpl
def wsbench_register_merges(register) -> None:
    register("none", NoMerge, "No merging: the searched codebook as it is.")
    register("neighbor", NeighborMerge,
             "Paper's left-to-right pass merging a bin with a neighbour when validation does not "
             "drop by more than `tolerance` (default 0).")
    register("neighbor-holdout", HoldoutNeighborMerge,
             "The paper's pass on half of validation, stopped at the last state the other half "
             "accepts (against the paper's overfitting of validation).")
