"""Statistics against small hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsbench.experiments import stats


def test_a12_hand_values():
    assert stats.a12([6, 7, 8], [1, 2, 3]) == 1.0
    assert stats.a12([1, 2, 3], [6, 7, 8]) == 0.0
    assert stats.a12([1, 2, 3], [1, 2, 3]) == 0.5
    # pairs (1,2)<, (1,3)<, (2,2)=, (2,3)<: (0 + 0.5) / 4
    assert stats.a12([1, 2], [2, 3]) == pytest.approx(0.125)
    assert stats.a12_magnitude(1.0) == "large" and stats.a12_magnitude(0.52) == "negligible"


def test_holm_on_known_pvalues():
    # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    out = stats.holm([0.01, float("nan"), 0.02])  # NaN stays out of the family
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


def test_rank_sum_exact_p_for_separated_samples():
    # all 5 of one sample above all 5 of the other: 2 of C(10, 5) = 252 orderings, two-sided
    assert stats.rank_sum_p([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == pytest.approx(2 / 252)
    assert stats.rank_sum_p([1, 1, 1], [1, 1, 1]) == 1.0


def test_pairwise_with_ties_and_holm():
    comps = stats.pairwise({"a": [1, 2, 3, 4, 5], "b": [6, 7, 8, 9, 10], "c": [1, 2, 3, 4, 5]})
    by = {(c.a, c.b): c for c in comps}
    assert by[("a", "c")].p == 1.0 and by[("a", "c")].a12 == 0.5
    assert by[("a", "b")].p_holm == pytest.approx(3 * 2 / 252)  # smallest of 3 p-values x 3
    assert by[("b", "c")].a12 == 1.0
    assert by[("a", "b")].better(higher_is_better=True) == "b"
    assert by[("a", "b")].better(higher_is_better=False) == "a"
    assert by[("a", "c")].better(True) is None


def test_summarize_median_iqr_and_special_values():
    s = stats.summarize([4, 1, 3, 2])
    assert (s.n, s.mean, s.median, s.q1, s.q3) == (4, 2.5, 2.5, 1.75, 3.25)
    assert s.std == pytest.approx(math.sqrt(5 / 3))
    s = stats.summarize([1, 2, 3, 4, math.inf])  # "never reached" in one run of five
    assert (s.median, s.q1, s.q3, s.mean) == (3, 2, 4, math.inf)
    s = stats.summarize([float("nan"), 7.0, None])
    assert (s.n, s.median, s.std) == (1, 7.0, 0.0)
    assert stats.summarize([]).n == 0


def test_average_ranks_with_ties():
    blocks = [{"a": 1.0, "b": 2.0, "c": 2.0}, {"a": 3.0, "b": 2.0, "c": 1.0}]
    ranks, p = stats.average_ranks(blocks, higher_is_better=True)
    # block 1: b, c tie for 1st (1.5 each), a 3rd; block 2: a 1st, b 2nd, c 3rd
    assert ranks == pytest.approx({"a": 2.0, "b": 1.75, "c": 2.25})
    assert 0 <= p <= 1
    ranks, _ = stats.average_ranks(blocks, higher_is_better=False)
    assert ranks == pytest.approx({"a": 2.0, "b": 2.25, "c": 1.75})
    ranks, p = stats.average_ranks([{"a": 1.0, "b": 2.0, "c": 0.5}, {"a": 1.0, "c": 3.0}], True)
    assert ranks == pytest.approx({"a": 1.5, "c": 1.5}) and p is None  # b missing once: left out
    # one group left has no rank worth printing
    assert stats.average_ranks([{"a": 1.0, "b": 2.0}, {"a": 1.0}], True) == ({}, None)


def test_average_ranks_failures_rank_last_or_drop_out():
    nan = float("nan")
    blocks = [{"a": 3.0, "b": nan, "c": 1.0}, {"a": nan, "b": nan, "c": 2.0}]
    # default: a and b have a NaN, so only c is left: nothing ranked
    assert stats.average_ranks(blocks, higher_is_better=True) == ({}, None)
    # failures last: block 1 a 1, c 2, b 3; block 2 c 1, a and b tie for 2-3 (2.5 each)
    ranks, p = stats.average_ranks(blocks, higher_is_better=True, missing_last=True)
    assert ranks == pytest.approx({"a": 1.75, "b": 2.75, "c": 1.5})
    assert 0 < p <= 1
    # lower is better: block 1 c 1, a 2, b 3 (a failure still ranks last); block 2 as above
    ranks, _ = stats.average_ranks(blocks, higher_is_better=False, missing_last=True)
    assert ranks == pytest.approx({"a": 2.25, "b": 2.75, "c": 1.0})


def test_signed_rank_exact_p_drops_ties():
    # 5 positive differences: the exact two-sided p is 2 / 2**5; a tied pair is dropped
    x = [1.5, 2.5, 3.5, 4.5, 5.5, 7.0]
    y = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    assert stats.signed_rank_p(x, y) == pytest.approx(2 / 32)
    assert stats.signed_rank_p(y, x) == pytest.approx(2 / 32)
    assert stats.signed_rank_p([1.0, 2.0], [1.0, 2.0]) == 1.0
    assert np.isnan(stats.signed_rank_p([], []))
    with pytest.raises(ValueError):
        stats.signed_rank_p([1.0], [1.0, 2.0])


def test_the_paired_bootstrap_se_of_an_accuracy_difference_is_the_textbook_one():
    """For accuracy, the difference is a mean of per-item differences d_i in {-1, 0, 1}, whose
    standard error is std(d) / sqrt(n); the bootstrap must agree, and see 0 for equal models."""
    from wsbench.experiments.stats import paired_bootstrap_se

    rng = np.random.default_rng(1)
    n = 4000
    y = rng.integers(0, 10, n)
    a = np.where(rng.random(n) < 0.9, y, (y + 1) % 10)
    b = np.where(rng.random(n) < 0.05, (a + 3) % 10, a)  # b changes 5% of a's predictions

    def acc(pred, target):
        return float(np.mean(pred == target))

    d = (a == y).astype(float) - (b == y).astype(float)
    textbook = d.std(ddof=1) / np.sqrt(n)
    assert paired_bootstrap_se(acc, y, a, b, resamples=2000) == pytest.approx(textbook, rel=0.1)
    assert paired_bootstrap_se(acc, y, a, a.copy()) == 0.0
    assert paired_bootstrap_se(acc, y, a, b, seed=3) == paired_bootstrap_se(acc, y, a, b, seed=3)
