"""Built-in quantizers: the paper's uniform bins, and 1-D k-means."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsbench.hookspecs import hookimpl
from wsbench.quantization import Quantization, compact

if TYPE_CHECKING:
    import torch


def _check_k(k: int) -> int:
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return k


class UniformQuantizer:
    """The paper's rule: k edges evenly spaced over [min, max], digitize, members' mean.

    O(N): one bucketize against k sorted edges and one scatter-add, on the weights' device.
    As in the authors' code the top edge opens a bin that holds only the maximum.
    """

    name = "uniform"

    def quantize(self, weights: "torch.Tensor", k: int) -> Quantization:
        import torch

        k = _check_k(k)
        w = weights.reshape(-1)
        lo, hi = torch.aminmax(w)
        edges = torch.linspace(float(lo), float(hi), k, device=w.device, dtype=w.dtype)
        # bucketize(right=True) == numpy.digitize: edges[i-1] <= x < edges[i] -> i, in 1..k
        bin_ids = torch.bucketize(w, edges, right=True)
        return compact(bin_ids, w, k + 1, k)


class KMeansQuantizer:
    """1-D k-means (Lloyd) fitted on a seeded subsample, then every weight assigned.

    In one dimension the nearest centroid is found by bucketizing against the midpoints of
    the sorted centroids, so each step is O(N log k) rather than O(N k). The final values are
    the means of the assigned weights, as for the uniform quantizer.
    """

    name = "kmeans"

    def __init__(self, max_samples: int = 200_000, max_iter: int = 50, tol: float = 1e-7,
                 seed: int = 0) -> None:
        self.max_samples = int(max_samples)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.seed = int(seed)

    def _assign(self, x: "torch.Tensor", centroids: "torch.Tensor") -> "torch.Tensor":
        import torch

        mids = (centroids[1:] + centroids[:-1]) / 2
        return torch.bucketize(x, mids)

    def quantize(self, weights: "torch.Tensor", k: int) -> Quantization:
        import torch

        k = _check_k(k)
        w = weights.reshape(-1).to(torch.float64)
        if w.numel() > self.max_samples:
            gen = torch.Generator(device="cpu").manual_seed(self.seed)
            pick = torch.randperm(w.numel(), generator=gen)[: self.max_samples].to(w.device)
            sample = w[pick]
        else:
            sample = w
        sample, _ = torch.sort(sample)
        # quantile initialisation: deterministic and spread like the data
        qs = torch.linspace(0, 1, k, dtype=torch.float64, device=w.device)
        centroids = torch.unique(torch.quantile(sample, qs) if sample.numel() <= 16_000_000
                                 else sample[(qs * (sample.numel() - 1)).long()])
        for _ in range(self.max_iter):
            ids = self._assign(sample, centroids)
            n = centroids.numel()
            counts = torch.bincount(ids, minlength=n)
            sums = torch.zeros(n, dtype=torch.float64, device=w.device).index_add_(0, ids, sample)
            keep = counts > 0
            new = sums[keep] / counts[keep]
            shift = (new - centroids[keep]).abs().max() if keep.all() else torch.tensor(float("inf"))
            centroids = new
            if float(shift) <= self.tol:
                break
        ids = self._assign(w, centroids)
        return compact(ids, weights.reshape(-1), centroids.numel(), k)


@hookimpl
def wsbench_register_quantizers(register) -> None:
    register("uniform", UniformQuantizer,
             "Paper's uniform bins: K edges over the global [min, max], members' mean, O(N).")
    register("kmeans", KMeansQuantizer,
             "1-D k-means fitted on a seeded subsample of at most 200,000 weights, all assigned.")
