"""The uniform quantizer follows the paper's rule exactly; k-means copes with large vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench import plugins


def paper_rule(w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent numpy reading of the paper's code: linspace edges, digitize, members' mean."""
    edges = np.linspace(w.min(), w.max(), k)
    bins = np.digitize(w, edges)
    used = np.unique(bins)
    codebook = np.array([w[bins == b].astype(np.float64).mean() for b in used])
    return codebook, np.searchsorted(used, bins)


@pytest.mark.parametrize("k", [2, 3, 17, 256, 1024])
def test_uniform_matches_the_paper_rule(k):
    w = torch.randn(20_000, generator=torch.Generator().manual_seed(k)) ** 3
    q = plugins.create("quantizer", "uniform").quantize(w, k)
    codebook, indices = paper_rule(w.numpy(), k)
    assert q.d == len(codebook) <= k
    np.testing.assert_array_equal(q.indices.numpy(), indices)
    np.testing.assert_allclose(q.codebook.numpy(), codebook, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["uniform", "kmeans"])
def test_invariants_and_determinism(name):
    w = torch.randn(50_000, generator=torch.Generator().manual_seed(1))
    quantizer = plugins.create("quantizer", name)
    q = quantizer.quantize(w, 40)
    assert q.codebook.dtype == torch.float32 and q.indices.shape == w.shape
    assert 1 <= q.d <= 40
    assert int(q.indices.min()) >= 0 and int(q.indices.max()) < q.d
    assert len(torch.unique(q.indices)) == q.d  # empty bins dropped
    idx = q.indices.numpy()
    means = np.bincount(idx, weights=w.numpy().astype(np.float64)) / np.bincount(idx)
    np.testing.assert_allclose(q.codebook.numpy(), means, rtol=1e-6, atol=1e-7)
    again = quantizer.quantize(w, 40)
    assert torch.equal(again.codebook, q.codebook) and torch.equal(again.indices, q.indices)


def test_top_edge_holds_only_the_maximum():
    w = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    q = plugins.create("quantizer", "uniform").quantize(w, 2)  # edges {0, 1}
    assert q.d == 2 and q.codebook[q.indices[-1]] == 1.0 and (q.indices[:-1] == 0).all()


def test_kmeans_fits_a_subsample_but_assigns_every_weight():
    w = torch.randn(300_000, generator=torch.Generator().manual_seed(2))
    q = plugins.create("quantizer", "kmeans", max_samples=10_000).quantize(w, 16)
    assert q.indices.numel() == w.numel() and q.d == 16
    # k-means on a Gaussian beats uniform bins in squared error at the same k
    u = plugins.create("quantizer", "uniform").quantize(w, 16)
    err = lambda qq: float(((qq.dequantize() - w) ** 2).mean())  # noqa: E731
    assert err(q) < err(u)


def test_constant_weights_give_one_value():
    q = plugins.create("quantizer", "uniform").quantize(torch.full((10,), 0.25), 8)
    assert q.d == 1 and float(q.codebook[0]) == 0.25


def test_a_range_near_the_smallest_normal_float_uses_the_exact_path():
    # found by hypothesis: (k - 1) / (hi - lo) overflows float32, the closed form gave NaN bins
    w = torch.tensor([0.0, float(np.finfo(np.float32).tiny)])
    q = plugins.create("quantizer", "uniform").quantize(w, 5)
    assert q.d == 2 and q.indices.tolist() == [0, 1] and torch.equal(q.codebook, w)
