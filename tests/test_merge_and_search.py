"""Merging never costs more validation than its tolerance; exhaustive search is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.search.optimizer import drive
from wsbench.search.pareto import non_dominated


@pytest.mark.parametrize("name", ["neighbor", "neighbor-bits", "deadzone-neighbor"])
@pytest.mark.parametrize("tolerance", [0.0, 0.01])
def test_neighbor_merge_respects_tolerance(digits_harness, tolerance, name):
    h = digits_harness
    q = h.quantization(np.array([24.0]))
    merger = plugins.create("merge", name, tolerance=tolerance)
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
    from wsbench.search.fitness import FitnessHarness

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
    bits = plugins.create("merge", "neighbor-holdout", order="bits").merge(q, always, check=held)
    assert bits.quantization.d == q.d - 3  # the bits-first pass, stopped at the same point
    with pytest.raises(Exception, match="merge order must be one of left-to-right, bits"):
        plugins.create("merge", "neighbor-holdout", order="random")


def test_deadzone_merge_finds_the_widest_accepted_zero_bin_then_runs_the_paper_pass():
    w = torch.randn(20000, generator=torch.Generator().manual_seed(3))
    q = plugins.create("quantizer", "uniform").quantize(w, 41)
    values = torch.sort(q.codebook).values
    z = int(torch.argmin(values.abs()))
    at_zero = int(torch.argmin(w.abs()))
    for radius in (0, 1, 5, 6, 13):  # odd and even radii, and none at all
        expect = (q.dequantize() >= values[z - radius]) & (q.dequantize() <= values[z + radius])
        limit = int(expect.sum())

        def zero_group_fits(flat, limit=limit):  # accepts while the zero group is small enough
            return 1.0 if int((flat == flat[at_zero]).sum()) <= limit else 0.0

        r = plugins.create("merge", "deadzone-neighbor").merge(q, zero_group_fits)
        deq = r.quantization.dequantize()
        zero_members = deq == deq[at_zero]
        assert torch.equal(zero_members, expect), radius  # exactly bins z-radius..z+radius
        assert r.final_score == 1.0
        assert r.quantization.d < q.d - 2 * radius - 5  # the paper's pass merged the rest
        # the zero group's value is the mean of its members
        assert float(deq[at_zero]) == pytest.approx(float(w[expect].double().mean()), abs=1e-6)


def test_bits_first_merge_spends_its_first_acceptance_on_the_densest_pair():
    w = torch.randn(20000, generator=torch.Generator().manual_seed(6))
    q = plugins.create("quantizer", "uniform").quantize(w, 31)
    counts = torch.bincount(q.indices, minlength=q.d).double()
    order = torch.argsort(q.codebook)
    c = counts[order]  # ascending value order
    saved = [(c[i] + c[i + 1]) * torch.log2(c[i] + c[i + 1]) - c[i] * torch.log2(c[i])
             - c[i + 1] * torch.log2(c[i + 1]) for i in range(q.d - 1)]
    densest = int(torch.argmax(torch.stack(saved)))

    def one_merge_only(flat):  # accepts the first merge; every later one is a drop
        return 1.0 if torch.unique(flat).numel() >= q.d - 1 else 0.0

    for name, expected_left in (("neighbor-bits", densest), ("neighbor", 0)):
        r = plugins.create("merge", name).merge(q, one_merge_only)
        assert r.quantization.d == q.d - 1 and r.final_score == 1.0
        merged_value = r.quantization.dequantize()[q.indices == order[expected_left]][0]
        a, b = q.codebook[order[expected_left]], q.codebook[order[expected_left + 1]]
        assert bool(((q.dequantize() == a) | (q.dequantize() == b)).eq(
            r.quantization.dequantize() == merged_value).all()), name
    # the unmerged score, the accepted merge, then each of the d - 2 pairs left once
    assert plugins.create("merge", "neighbor-bits").merge(q, one_merge_only).evaluations == 1 + 1 + (q.d - 2)
