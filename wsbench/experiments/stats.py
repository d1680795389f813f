"""Statistics over seeds: summaries, pairwise rank-sum tests with Holm correction, A12, ranks.

The tests are the ones usual in evolutionary-computation papers: a two-sided Wilcoxon rank-sum
(Mann-Whitney U) test between every pair of configurations, Holm's step-down correction over
the pairs of one family (one task, one metric), and the Vargha-Delaney A12 effect size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Callable, Mapping, Sequence

import numpy as np

TEST_NAME = "two-sided Wilcoxon rank-sum (Mann-Whitney U) test, Holm-corrected per task and metric"


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float
    median: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def summarize(values: Sequence[float]) -> Summary:
    """Mean, sample std (ddof 1), median and quartiles; NaNs (not applicable) are left out.

    Infinite values (e.g. "never reached") are kept: the mean becomes infinite and the std
    NaN, but the median and quartiles stay meaningful while few runs are infinite.
    """
    x = np.sort(np.asarray([v for v in values if not _isnan(v)], dtype=np.float64))
    if not len(x):
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan)
    finite = bool(np.isfinite(x).all())
    mean = float(x.mean()) if finite else float(x[-1] if np.isinf(x[-1]) else x[0])
    std = float(x.std(ddof=1)) if len(x) > 1 and finite else (0.0 if len(x) == 1 else float("nan"))
    q1, med, q3 = (_quantile(x, q) for q in (0.25, 0.5, 0.75))
    return Summary(len(x), mean, std, med, q1, q3)


def _quantile(s: np.ndarray, q: float) -> float:
    """numpy's default (linear) quantile of sorted ``s``, also right when +-inf is involved."""
    pos = q * (len(s) - 1)
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    if lo == hi or s[lo] == s[hi]:
        return float(s[lo])
    if not np.isfinite(s[hi]) or not np.isfinite(s[lo]):
        return float(s[hi] if np.isinf(s[hi]) else s[lo])
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def a12(x: Sequence[float], y: Sequence[float]) -> float:
    """Vargha-Delaney A12: P(X > Y) + 0.5 P(X = Y) over all pairs (0.5: no effect)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not len(x) or not len(y):
        return float("nan")
    gt = (x[:, None] > y[None, :]).sum()
    eq = (x[:, None] == y[None, :]).sum()
    return float((gt + 0.5 * eq) / (len(x) * len(y)))


def a12_magnitude(a: float) -> str:
    """Vargha and Delaney's thresholds on |A12 - 0.5|: negligible, small, medium, large."""
    d = abs(a - 0.5)
    return "negligible" if d < 0.06 else "small" if d < 0.14 else "medium" if d < 0.21 else "large"


def rank_sum_p(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value; 1.0 when both samples are one identical constant."""
    from scipy.stats import mannwhitneyu

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not len(x) or not len(y):
        return float("nan")
    if np.unique(np.concatenate([x, y])).size == 1:
        return 1.0
    return float(mannwhitneyu(x, y, alternative="two-sided").pvalue)


def signed_rank_p(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples; ties (x == y) are dropped.

    1.0 when every pair ties; NaN with no pairs. Used where two configurations share their
    searches (e.g. two merges of the same front members), so their results pair up.
    """
    from scipy.stats import wilcoxon

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError("paired samples must have the same length")
    if not len(x):
        return float("nan")
    if not np.any(x != y):
        return 1.0
    return float(wilcoxon(x, y, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaNs are left out of the family and stay NaN)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    p: float
    p_holm: float
    a12: float  # P(a > b) + 0.5 P(a = b), on the raw values

    def better(self, higher_is_better: bool, alpha: float = 0.05) -> str | None:
        """The significantly better of the two at ``alpha`` (Holm-adjusted), else None."""
        if not self.p_holm < alpha:
            return None
        a_wins = self.a12 > 0.5 if higher_is_better else self.a12 < 0.5
        return self.a if a_wins else self.b


def pairwise(samples: Mapping[str, Sequence[float]]) -> list[Comparison]:
    """Every pair of groups: rank-sum p, Holm-adjusted p over all pairs, A12 (NaNs dropped)."""
    clean = {k: [v for v in vs if not _isnan(v)]
             for k, vs in samples.items()}
    pairs = list(combinations(clean, 2))
    raw = [rank_sum_p(clean[a], clean[b]) for a, b in pairs]
    adj = holm(raw)
    return [Comparison(a, b, p, q, a12(clean[a], clean[b]))
            for (a, b), p, q in zip(pairs, raw, adj)]


def average_ranks(blocks: Sequence[Mapping[str, float]], higher_is_better: bool,
                  missing_last: bool = False) -> tuple[dict[str, float], float | None]:
    """Friedman-style average ranks (1 = best, ties share the mean rank) and Friedman's p.

    Each block (e.g. one task and seed) maps group -> value; only groups present in every
    block are ranked. A NaN value leaves its group out too, unless ``missing_last``: then it
    is a failure (e.g. no solution within a drop) and ranks after every value of its block,
    tied with the other failures, so that failing does not drop a group from the table. One
    group has no rank worth printing, so fewer than two give none. The p-value is None with
    fewer than 3 groups or 2 blocks.
    """
    from scipy.stats import friedmanchisquare, rankdata

    if not blocks:
        return {}, None
    groups = [g for g in blocks[0]
              if all(g in b and (missing_last or not _isnan(b[g])) for b in blocks)]
    if len(groups) < 2:
        return {}, None
    sign = -1.0 if higher_is_better else 1.0
    R = np.array([rankdata([math.inf if _isnan(b[g]) else sign * b[g] for g in groups])
                  for b in blocks])
    ranks = dict(zip(groups, R.mean(0).tolist()))
    p = None
    if len(groups) >= 3 and len(blocks) >= 2:  # Friedman's statistic needs only the ranks
        p = float(friedmanchisquare(*R.T).pvalue) if np.ptp(R, axis=1).any() else 1.0
    return ranks, p


def _isnan(v: float | None) -> bool:
    """None or NaN: a value that does not apply (e.g. no solution within a drop)."""
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def paired_bootstrap_se(metric: Callable[[np.ndarray, np.ndarray], float], target: np.ndarray,
                        pred_a: np.ndarray, pred_b: np.ndarray, resamples: int = 1000,
                        seed: int = 0) -> float:
    """Standard error of ``metric(pred_a) - metric(pred_b)`` on the same items, from a seeded
    bootstrap over the items (both models see the same resample, so what they share cancels).
    A selection on one validation split should know it: a drop measured on 5,000 images is
    only good to a few tenths of a point."""
    rng = np.random.default_rng(seed)
    n = len(target)
    diffs = [metric(pred_a[i], target[i]) - metric(pred_b[i], target[i])
             for i in (rng.integers(0, n, n) for _ in range(resamples))]
    return float(np.std(diffs, ddof=1))
