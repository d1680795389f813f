"""The dead-zone merge: widen the bin around zero while validation holds, then the paper's pass.

A plugin module of its own (registered through the ``wsbench`` entry points like the other
built-ins) because it shares only the paper's pass with the neighbour merges.
"""

from __future__ import annotations

from wsbench_plugins.merges import ascending_bins, check_tolerance, first_score_and_last, neighbor_pass

from wsbench import MergeResult, MergeStrategy, Quantization, Scorer, hookimpl
from wsbench.options import Share


def merge_range(q: Quantization, lo: int, hi: int) -> Quantization:
    """``q`` with its values of ascending rank lo..hi (inclusive) merged into their members' mean."""
    import torch

    r, _, _ = ascending_bins(q)
    group = torch.where(r < lo, r, torch.where(r <= hi, torch.full_like(r, lo), r - (hi - lo)))
    n = q.d - (hi - lo)
    sums = torch.zeros(n, dtype=torch.float64, device=r.device).index_add_(
        0, group, q.codebook[q.indices].to(torch.float64))
    counts = torch.bincount(group, minlength=n).to(torch.float64)
    return Quantization(codebook=(sums / counts).to(torch.float32), indices=group, k=q.k)


class DeadzoneNeighborMerge(MergeStrategy):
    """Widen the bin nearest zero while validation holds, then the paper's left-to-right pass.

    Huffman coding pays for entropy, and the densest bins are the ones around zero: merging
    them removes far more bits per accepted merge than the paper's pass, which mostly merges
    sparse tail bins (a dead-zone quantizer, as in video codecs; retraining-free pruning of the
    smallest weights). The radius r (bins merged on each side of the zero bin) is found by
    doubling then bisection, ~2 log2(d) scores. The total validation drop stays within
    ``tolerance`` of the unmerged score, as for the paper's merge.
    """

    name = "deadzone-neighbor"

    def __init__(self, tolerance: Share = 0.0) -> None:
        self.tolerance = check_tolerance(tolerance)

    def merge(self, q: Quantization, score: Scorer, check: Scorer | None = None) -> MergeResult:
        import torch

        initial = score(q.dequantize())
        counter = [1]
        values = torch.sort(q.codebook).values
        z = int(torch.argmin(values.abs()))
        r_max = max(z, q.d - 1 - z)

        def widened(r: int) -> tuple[Quantization, float]:
            cand = merge_range(q, max(0, z - r), min(q.d - 1, z + r))
            counter[0] += 1
            return cand, score(cand.dequantize())

        best, best_score, good, bad = q, initial, 0, r_max + 1
        r = 1
        while r <= r_max:  # doubling: the largest accepted radius lies in [good, bad)
            cand, s = widened(r)
            if s < initial - self.tolerance:
                bad = r
                break
            best, best_score, good = cand, s, r
            r *= 2
        while bad - good > 1:  # bisection
            mid = (good + bad) // 2
            cand, s = widened(mid)
            if s >= initial - self.tolerance:
                best, best_score, good = cand, s, mid
            else:
                bad = mid
        # the paper's pass, with what is left of the tolerance after the dead zone
        left = max(0.0, self.tolerance - (initial - best_score))
        _, (final, final_score) = first_score_and_last(neighbor_pass(best, score, left, counter))
        return MergeResult(final, counter[0], initial, final_score)


@hookimpl
def wsbench_register_merges(register) -> None:
    register("deadzone-neighbor", DeadzoneNeighborMerge,
             "Widen the bin around zero while validation holds (fewer Huffman bits: the densest "
             "bins merge first), then the paper's pass; total drop within `tolerance`.")
