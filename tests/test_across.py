"""Aggregation across problems (COCO's views): ERT, the pooled runtime ECDF and the leaderboard,
checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsbench.report.across import _min_signed_rank_p, ert, leaderboard_ranks, pooled_ecdf

INF = math.inf


def test_ert_counts_what_failed_runs_spent_over_the_successes():
    # seeds needed 10 and 30; the third never reached the target after spending 100
    assert ert([10, INF, 30], [50, 100, 60]) == pytest.approx((10 + 30 + 100) / 2)
    assert ert([INF, INF], [80, 80]) == INF
    assert ert([7], [7]) == 7


def test_the_pooled_ecdf_weighs_every_problem_the_same():
    a = np.array([[1, 5], [INF, 3]])  # 2 seeds x 2 targets
    b = np.array([[2]])               # 1 seed x 1 target
    got = pooled_ecdf([a, b], np.array([1, 3, 10]))
    # a: 1/4, 2/4, 3/4 of its pairs; b: 0, 1, 1; each problem weighs a half
    np.testing.assert_allclose(got, [(0.25 + 0) / 2, (0.5 + 1) / 2, (0.75 + 1) / 2])


def test_leaderboard_ranks_per_problem_mean_rank_and_friedman():
    scores = {"p1": {"a": 0.9, "b": 0.8, "c": 0.7},
              "p2": {"a": 0.5, "b": 0.6, "c": 0.4},
              "p3": {"a": 1.0, "b": 0.2, "c": 0.3}}
    per, mean, p = leaderboard_ranks(scores)
    assert per == {"p1": {"a": 1, "b": 2, "c": 3}, "p2": {"a": 2, "b": 1, "c": 3},
                   "p3": {"a": 1, "b": 3, "c": 2}}
    assert mean == pytest.approx({"a": 4 / 3, "b": 2.0, "c": 8 / 3})
    # Friedman by hand: n = 3 problems, k = 3; rank sums 4, 6, 8
    chi2 = 12 / (3 * 3 * 4) * (4 ** 2 + 6 ** 2 + 8 ** 2) - 3 * 3 * 4
    assert p == pytest.approx(math.exp(-chi2 / 2))  # chi-square with 2 degrees of freedom


def test_a_configuration_missing_on_a_problem_is_left_out_of_the_ranks():
    per, mean, _ = leaderboard_ranks({"p1": {"a": 1.0, "b": 0.5, "c": 0.7}, "p2": {"a": 0.1, "c": 0.2}})
    assert mean == {"a": 1.5, "c": 1.5} and per["p1"] == {"a": 1, "c": 2} and per["p2"] == {"a": 2, "c": 1}
    # one configuration left is no leaderboard
    assert leaderboard_ranks({"p1": {"a": 1.0, "b": 0.5}, "p2": {"a": 0.1}}) == ({}, {}, None)


def test_the_smallest_signed_rank_p_is_what_scipy_gives_when_every_sign_agrees():
    from scipy.stats import wilcoxon

    for n in (3, 5, 8):
        diffs = np.arange(1, n + 1, dtype=float)
        assert _min_signed_rank_p(n) == pytest.approx(wilcoxon(diffs).pvalue)


def test_the_winner_line_ranks_by_seeds_that_succeeded_then_expected_running_time(monkeypatch):
    from types import SimpleNamespace

    from wsbench.report import anytime, best_known, build

    monkeypatch.setattr(anytime, "reference_hv", lambda res, task: (1.0, "the exact front's HV"))
    monkeypatch.setattr(best_known, "reached_share", lambda res, task: 1.0)
    monkeypatch.setattr(build, "reference_name", lambda res, task=None: "exact")

    def trial(config, reached_at, spent):  # HV curve: the reference reached at that evaluation
        curve = [0.5] * spent if reached_at == INF else [0.5] * (reached_at - 1) + [1.0] * (spent - reached_at + 1)
        return SimpleNamespace(config=config, curve=np.array(curve))

    # "quick" is faster when it succeeds but fails a seed; "sure" succeeds in all three
    trials = [trial("quick", 5, 5), trial("quick", 6, 6), trial("quick", INF, 50),
              trial("sure", 20, 20), trial("sure", 30, 30), trial("sure", 40, 40)]
    res = SimpleNamespace(configs=["quick", "sure"], by_task=lambda task: trials,
                          exact_for=lambda task: ["an exact front"], tasks=["t"],
                          exp=SimpleNamespace(budget=50, fidelity=1.0, screen_dtype="float32"))
    note = build.fastest_note(res, "t")
    assert "**sure** (reached in 3/3 seeds; expected running time 30 " in note
    assert "IQR" not in note
    # with equal success, the lower ERT wins: quick's (5 + 6 + 50) / 2 against sure's (20 + 30 + 50) / 2
    trials[5] = trial("sure", INF, 50)
    assert "**quick** (reached in 2/3 seeds; expected running time 30 " in build.fastest_note(res, "t")


def test_comparisons_with_a_control_are_holm_corrected_over_k_minus_one():
    from scipy.stats import wilcoxon

    from wsbench.report.across import control_pairs

    # 6 problems; "c" beats "a" everywhere, "b" on 5 of 6 (and ties one)
    scores = {f"p{i}": {"c": 1.0 + i, "a": 0.5 + i, "b": (0.8 if i else 1.0) + i} for i in range(6)}
    got = control_pairs(scores, "c", ["c", "a", "b"])
    pa = wilcoxon([1.0 + i for i in range(6)], [0.5 + i for i in range(6)]).pvalue  # 2 / 64
    pb = wilcoxon([1.0 + i for i in range(1, 6)], [0.8 + i for i in range(1, 6)]).pvalue  # 2 / 32
    assert pa == pytest.approx(2 / 64) and pb == pytest.approx(2 / 32)
    # Holm over the two comparisons: the smaller doubled, the larger at least that, times one
    assert got == {"a": pytest.approx(2 * pa), "b": pytest.approx(max(2 * pa, pb))}
