"""Built-in merge strategies: none, the paper's left-to-right neighbour merge, and variants of
it: stopped when a held-out half of the validation split stops agreeing, and with the merges
that save the most Huffman bits tried first (the dead-zone variant is in merges_deadzone.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from wsbench import MergeResult, MergeStrategy, Quantization, Scorer, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Share

if TYPE_CHECKING:
    import torch


class NoMerge(MergeStrategy):
    name = "none"

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        s = score(q.dequantize())
        return MergeResult(q, 1, s, s)


def check_tolerance(tolerance: float) -> float:
    if not tolerance >= 0:
        raise ConfigError(f"merge tolerance must be >= 0, got {tolerance!r}")
    return float(tolerance)


def ascending_bins(q: Quantization) -> tuple["torch.Tensor", list[float], list[float]]:
    """Each weight's bin relabelled in ascending value order, and the bins' counts and sums."""
    import torch

    order = torch.argsort(q.codebook)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=order.device)
    indices = rank[q.indices]
    counts = torch.bincount(indices, minlength=q.d).to(torch.float64).tolist()
    sums = [v * c for v, c in zip(q.codebook[order].to(torch.float64).tolist(), counts)]
    return indices, counts, sums


def neighbor_pass(q: Quantization, score: Scorer, tolerance: float,
                  counter: list[int]) -> Iterator[tuple[Quantization, float]]:
    """The paper's pass; yields (quantization, score) first as given, then after each accepted merge.

    At each bin (ascending value order) merging with the left and with the right neighbour is
    scored; the better is kept when its score is at least max(current, initial) - tolerance.
    The merged value is the count-weighted mean of the two values, i.e. the mean of the union
    of their members. ``counter[0]`` counts the scorer's calls.
    """
    import torch

    indices, counts, sums = ascending_bins(q)
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


def first_score_and_last(
    states: Iterator[tuple[Quantization, float]],
) -> tuple[float, tuple[Quantization, float]]:
    """A pass's first score and last (state, score), holding one state at a time (each state
    carries an index per weight)."""
    first = last = None
    for last in states:
        if first is None:
            first = last[1]
    return first, last


class NeighborMerge(MergeStrategy):
    """The paper's merge: one left-to-right pass over the bins, accepted while validation holds.

    The total validation drop is bounded by ``tolerance`` (0: the paper's "no drop").
    """

    name = "neighbor"
    pass_ = staticmethod(neighbor_pass)

    def __init__(self, tolerance: Share = 0.0) -> None:
        self.tolerance = check_tolerance(tolerance)

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        counter = [0]
        states = self.pass_(q, score, self.tolerance, counter)
        initial, (final, final_score) = first_score_and_last(states)
        return MergeResult(final, counter[0], initial, final_score)


class HoldoutNeighborMerge(MergeStrategy):
    """The paper's pass driven by one half of validation, stopped early by the other half.

    ``order="bits"`` drives the bits-first pass (``neighbor-bits``) instead.

    The paper's merge overfits its validation split (Table I: validation F1 rises while test F1
    falls). Here the pass is scored on ``score`` (the fitting half) and every accepted state is
    also scored on ``check`` (the held-out half); the result is the most merged state whose
    held-out score is at least the initial held-out score minus ``tolerance``.
    """

    name = "neighbor-holdout"
    needs_holdout = True

    def __init__(self, tolerance: Share = 0.0, order: str = "left-to-right") -> None:
        self.tolerance = check_tolerance(tolerance)
        passes = {"left-to-right": NeighborMerge.pass_, "bits": BitsFirstNeighborMerge.pass_}
        if order not in passes:
            raise ConfigError(f"merge order must be one of {', '.join(passes)}, got {order!r}")
        self.order, self.pass_ = order, passes[order]

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        if check is None:
            raise ConfigError("merge 'neighbor-holdout' needs a held-out scorer (check)")
        counter = [0]
        chosen = initial_check = initial_fit = None
        for cand, fit_score in self.pass_(q, score, self.tolerance, counter):
            held = check(cand.dequantize())
            counter[0] += 1
            if initial_check is None:
                initial_check, initial_fit = held, fit_score
            if held >= initial_check - self.tolerance:
                chosen = (cand, fit_score)
        return MergeResult(chosen[0], counter[0], initial_fit, chosen[1])


def _bits_saved(a: float, b: float) -> float:
    """Fewer total entropy bits (a Huffman code's length, to within a bit per symbol) when
    bins of a and b members become one."""
    import math

    return (a + b) * math.log2(a + b) - a * math.log2(a) - b * math.log2(b)


def bits_first_pass(q: Quantization, score: Scorer, tolerance: float,
                    counter: list[int]) -> Iterator[tuple[Quantization, float]]:
    """The paper's acceptance rule, candidate merges tried most-bits-saved first; yields
    (quantization, score) first as given, then after each accepted merge, like neighbor_pass.

    Every adjacent pair is a candidate, tried in order of the entropy bits its merge saves
    (largest first, recomputed after each merge); a pair that fails is not tried again until
    one of its bins changes. ``counter[0]`` counts the scorer's calls.
    """
    import torch

    indices, counts, sums = ascending_bins(q)
    members = [[i] for i in range(q.d)]  # original bins of each group
    ids, next_id = list(range(q.d)), q.d  # a group's id changes when it changes

    def state(members_: list[list[int]], sums_: list[float], counts_: list[float]) -> Quantization:
        group_of = torch.empty(q.d, dtype=torch.long, device=indices.device)
        for g, bins in enumerate(members_):
            group_of[bins] = g
        values = torch.tensor([s_ / c_ for s_, c_ in zip(sums_, counts_)], dtype=torch.float32,
                              device=q.codebook.device)
        return Quantization(codebook=values, indices=group_of[indices], k=q.k)

    current = state(members, sums, counts)
    initial = best = score(current.dequantize())
    counter[0] += 1
    yield current, initial
    rejected: set[tuple[int, int]] = set()
    while True:
        pairs = [(_bits_saved(counts[g], counts[g + 1]), g) for g in range(len(counts) - 1)
                 if (ids[g], ids[g + 1]) not in rejected]
        if not pairs:
            break
        _, g = max(pairs)
        s2 = sums[:g] + [sums[g] + sums[g + 1]] + sums[g + 2:]
        c2 = counts[:g] + [counts[g] + counts[g + 1]] + counts[g + 2:]
        m2 = members[:g] + [members[g] + members[g + 1]] + members[g + 2:]
        cand = state(m2, s2, c2)
        new = score(cand.dequantize())
        counter[0] += 1
        if new >= max(best, initial) - tolerance:
            best, sums, counts, members = new, s2, c2, m2
            ids = ids[:g] + [next_id] + ids[g + 2:]
            next_id += 1
            yield cand, new
        else:
            rejected.add((ids[g], ids[g + 1]))


class BitsFirstNeighborMerge(NeighborMerge):
    """The paper's acceptance rule, with the candidate merges tried most-bits-saved first.

    The paper's pass walks left to right, so its first accepted merges are in the sparse left
    tail, where a merge saves few Huffman bits, and each acceptance raises the bar (a merge must
    keep validation at the best score so far). Same acceptance rule and tolerance as
    ``neighbor``; about as many scores (each pair once, plus two per accepted merge).
    """

    name = "neighbor-bits"
    pass_ = staticmethod(bits_first_pass)


@hookimpl
def wsbench_register_merges(register) -> None:
    register("none", NoMerge, "No merging: the searched codebook as it is.")
    register("neighbor", NeighborMerge,
             "Paper's left-to-right pass merging a bin with a neighbour when validation does not "
             "drop by more than `tolerance` (default 0).")
    register("neighbor-holdout", HoldoutNeighborMerge,
             "The paper's pass on half of validation, stopped at the last state the other half "
             "accepts (against the paper's overfitting of validation); `order=bits` drives the "
             "bits-first pass instead.")
    register("neighbor-bits", BitsFirstNeighborMerge,
             "The paper's acceptance rule with the merges that save the most Huffman bits tried "
             "first (the paper's pass spends its early acceptances on the sparse left tail).")
