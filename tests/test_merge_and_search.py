"""Merging never costs more validation than its tolerance; exhaustive search is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.optimizer import drive
from wsbench.pareto import non_dominated


@pytest.mark.parametrize("tolerance", [0.0, 0.01])
def test_neighbor_merge_respects_tolerance(digits_harness, tolerance):
    h = digits_harness
    q = h.quantization(np.array([24.0]))
    merger = plugins.create("merge", "neighbor", tolerance=tolerance)
    seen = []

    def score(flat):
        s = h.score_weights(flat, "val")
        seen.append(s)
        return s

    result = merger.merge(q, score)
    start = h.score_quantization(q, "val")
    assert result.initial_score == pytest.approx(start)
    assert result.final_score >= start - tolerance - 1e-12
    assert h.score_quantization(result.quantization, "val") == pytest.approx(result.final_score)
    assert result.quantization.d <= q.d and result.evaluations == len(seen)
    # merged values are the means of the union of their members
    w = h.view.original.double()
    idx = result.quantization.indices
    means = torch.zeros(result.quantization.d, dtype=torch.float64).index_add_(0, idx, w)
    means /= torch.bincount(idx, minlength=result.quantization.d)
    np.testing.assert_allclose(result.quantization.codebook.numpy(), means.numpy(), rtol=1e-6, atol=1e-7)


def test_merge_uses_about_two_evaluations_per_bin(digits_harness):
    q = digits_harness.quantization(np.array([16.0]))
    r = plugins.create("merge", "neighbor").merge(q, lambda f: digits_harness.score_weights(f))
    assert r.evaluations <= 2 * q.d + 1


def test_exhaustive_front_equals_brute_force(digits_harness):
    h = digits_harness
    drive(plugins.create("optimizer", "exhaustive"), h, budget=10_000)
    assert h.unique == 63  # K = 2..64
    X, F = h.front()
    brute = np.array([[1 - h.score_quantization(h.quantizer.quantize(h.view.original, k)),
                       h.quantizer.quantize(h.view.original, k).d] for k in range(2, 65)])
    mask = non_dominated(brute)
    expected = {tuple(f) for f in brute[mask]}
    assert {tuple(f) for f in F} == expected


def test_nsga2_budget_cache_and_seed(digits_cnn):
    from wsbench.fitness import FitnessHarness

    def run(seed):
        h = FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"),
                           plugins.create("space", "k", k_min=2, k_max=200), device="cpu")
        drive(plugins.create("optimizer", "nsga2", pop_size=10), h, budget=40, seed=seed)
        return h

    a, b, c = run(3), run(3), run(4)
    assert a.unique <= 40 and a.requested >= a.unique
    assert [e.x for e in a.archive] == [e.x for e in b.archive]
    assert [e.x for e in a.archive] != [e.x for e in c.archive]
    assert all(2 <= e.x[0] <= 200 and float(e.x[0]).is_integer() for e in a.archive)
    cached = [e for e in a.archive if e.cached]
    assert len(a.archive) - len(cached) == a.unique


def test_non_dominated_matches_definition():
    rng = np.random.default_rng(0)
    F = rng.integers(0, 6, size=(200, 2)).astype(float)
    mask = non_dominated(F)
    for i, f in enumerate(F):
        dominated = np.any(np.all(F <= f, axis=1) & np.any(F < f, axis=1))
        assert mask[i] == (not dominated)


def test_holdout_merge_stops_where_the_held_out_half_declines():
    w = torch.randn(5000, generator=torch.Generator().manual_seed(5))
    q = plugins.create("quantizer", "uniform").quantize(w, 30)
    always = lambda flat: 1.0  # noqa: E731  the fitting half accepts every merge
    held = lambda flat: 1.0 if len(torch.unique(flat)) >= q.d - 3 else 0.0  # noqa: E731
    paper = plugins.create("merge", "neighbor").merge(q, always)
    holdout = plugins.create("merge", "neighbor-holdout").merge(q, always, check=held)
    assert paper.quantization.d < q.d - 3  # the paper's pass merges far beyond that point
    assert holdout.quantization.d == q.d - 3  # the most merged state the held-out half accepts
    with pytest.raises(Exception, match="held-out scorer"):
        plugins.create("merge", "neighbor-holdout").merge(q, always)
