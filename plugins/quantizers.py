"""Built-in quantizers: the paper's uniform bins, and 1-D k-means."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import numpy as np

from wsbench import Quantization, compact, hookimpl
from wsbench.options import Range, Seed

if TYPE_CHECKING:
    import torch


def _check_k(k: int) -> int:
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return k


class UniformQuantizer:
    """The paper's rule: k edges evenly spaced over [min, max], digitize, members' mean.

    O(N) and frugal with memory. The bins are equally wide, so a weight's bin is found in closed
    form (one multiply) and corrected by at most one bin against the exact ``linspace`` edges:
    the result is exactly ``compact(bucketize(w, edges, right=True), ...)`` (numpy's
    ``digitize``, float64 sums in index order) without a binary search. On the CPU it runs in
    numpy over cache-sized chunks that write the final int64 indices in place (the indices are
    the only full-size allocation, and no thread pool is woken for small vectors); elsewhere
    it is the same arithmetic in torch. As in the authors' code the top edge opens a bin that
    holds only the maximum.
    """

    name = "uniform"
    chunk = 1 << 18  # weights per CPU chunk: the temporaries stay in cache

    def quantize(self, weights: "torch.Tensor", k: int) -> Quantization:
        import torch

        k = _check_k(k)
        w = weights.detach().reshape(-1)
        if w.device.type == "cpu" and w.dtype == torch.float32 and w.numel():
            wn = w.numpy()
            lo, hi = float(wn.min()), float(wn.max())
        else:
            lo, hi = (float(v) for v in torch.aminmax(w))
        edges = portable_linspace(lo, hi, k, w)
        if not _closed_form_exact(w, lo, hi, k):
            # bucketize(right=True) == numpy.digitize: edges[i-1] <= x < edges[i] -> i, in 1..k
            return compact(torch.bucketize(w, edges, right=True), w, k + 1, k)
        if w.device.type == "cpu":
            return _uniform_bins_numpy(w, edges, lo, hi, k, self.chunk)
        return _uniform_bins_torch(w, edges, lo, hi, k)


def portable_linspace(lo: float, hi: float, k: int, like: "torch.Tensor") -> "torch.Tensor":
    """``k`` evenly spaced values from ``lo`` to ``hi`` with ``like``'s dtype and device,
    the same bits on every CPU: torch.linspace's vectorised and scalar kernels (AVX2 against
    a CPU without it) round some edges differently, which moved a few weights into the
    neighbouring bin and the Huffman sizes with them. numpy computes in float64, no FMA."""
    import torch

    values = np.linspace(lo, hi, k, dtype=np.float64)
    return torch.from_numpy(values).to(device=like.device, dtype=like.dtype)


def _closed_form_exact(w: "torch.Tensor", lo: float, hi: float, k: int) -> bool:
    """True when a bin is many float32 ulps wide, so the closed-form guess is off by at most one
    bin (rounding moves it by well under one bin for k <= 2**20); otherwise use bucketize."""
    import math

    import torch

    if w.dtype != torch.float32 or not (math.isfinite(lo) and math.isfinite(hi)):
        return False
    ulp = float(np.spacing(np.float32(max(abs(lo), abs(hi)))))
    if not 2 <= k <= 1 << 20 or (hi - lo) / (k - 1) <= 64 * ulp:
        return False
    with np.errstate(over="ignore"):  # a range near float32's smallest normal: scale overflows
        return bool(np.isfinite(np.float32((k - 1) / (hi - lo))))


def _uniform_bins_numpy(w: "torch.Tensor", edges: "torch.Tensor", lo: float, hi: float, k: int,
                        chunk: int) -> Quantization:
    """The closed form on the CPU, chunk by chunk; ``np.add.at`` sums in index order, as
    ``index_add_`` does, so the codebook is bit for bit the reference one."""
    import torch

    wn, low = w.numpy(), edges.numpy()
    high = np.append(low[1:], np.float32(np.inf))  # high[j] = edges[j + 1]
    scale = np.float32((k - 1) / (hi - lo))
    n = wn.size
    ids = np.empty(n, dtype=np.int64)
    sums = np.zeros(k + 1, dtype=np.float64)
    guess = np.empty(min(chunk, n), dtype=np.float32)
    for s in range(0, n, chunk):
        wc, out = wn[s:s + chunk], ids[s:s + chunk]
        t = guess[:wc.size]
        np.subtract(wc, np.float32(lo), out=t)
        t *= scale
        np.floor(t, out=t)
        np.clip(t, 0, k - 1, out=t)
        out[:] = t                       # guess of the left edge j
        out -= np.take(low, out) > wc    # guess one too high
        out += np.take(high, out) <= wc  # guess one too low
        out += 1                         # bucketize's bin: number of edges <= w
        if n > chunk:  # accumulate across chunks in index order
            np.add.at(sums, out, wc.astype(np.float64))
    if n <= chunk:  # one piece: bincount sums in index order too
        sums = np.bincount(ids, weights=wn.astype(np.float64), minlength=k + 1)
    counts = np.bincount(ids, minlength=k + 1)
    nonempty = counts > 0
    remap = np.cumsum(nonempty) - 1
    codebook = torch.from_numpy((sums[nonempty] / counts[nonempty]).astype(np.float32))
    for s in range(0, n, chunk):
        out = ids[s:s + chunk]
        np.take(remap, out, out=out)
    return Quantization(codebook=codebook, indices=torch.from_numpy(ids), k=k)


def _uniform_bins_torch(w: "torch.Tensor", edges: "torch.Tensor", lo: float, hi: float,
                        k: int) -> Quantization:
    """The closed form in torch, in one piece (for CUDA and other devices)."""
    import torch

    high = torch.cat([edges[1:], edges.new_full((1,), float("inf"))])
    ids = ((w - lo) * ((k - 1) / (hi - lo))).floor_().clamp_(0, k - 1).long()
    ids -= (torch.index_select(edges, 0, ids) > w).long()
    ids += torch.index_select(high, 0, ids) <= w
    ids += 1
    return compact(ids, w, k + 1, k)


class KMeansQuantizer:
    """1-D k-means (Lloyd) fitted on a seeded subsample, then every weight assigned.

    In one dimension the nearest centroid is found by bucketizing against the midpoints of
    the sorted centroids, so each step is O(N log k) rather than O(N k). The final values are
    the means of the assigned weights, as for the uniform quantizer.
    """

    name = "kmeans"

    def __init__(self, max_samples: Annotated[int, Range(1, 100_000_000)] = 200_000,
                 max_iter: Annotated[int, Range(1, 10_000)] = 50,
                 tol: Annotated[float, Range(0.0, 1.0)] = 1e-7, seed: Seed = 0) -> None:
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
        qs = portable_linspace(0.0, 1.0, k, w)
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
