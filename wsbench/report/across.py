"""Across problems: does a ranking hold over every task of a folder? Aggregated as COCO does.

One problem's table says who won there; a benchmark's reader wants to know whether that
survives other models. Three views, each over the tasks of one results folder:

* **leaderboard**: each configuration's rank per problem (of its median HV / reference over
  seeds), the mean rank, Friedman's test over problems, and Holm-corrected Wilcoxon
  signed-rank tests over problems for every pair (with few problems, no pair can reach
  p < 0.05: the table says how many problems there are);
* **expected running time** (COCO's ERT) to a share of the reference HV: the evaluations spent by
  all seeds, failures included at what they spent, over the seeds that reached it. Unlike a
  median, it never hides a seed that failed;
* **runtime ECDF over all (problem, target) pairs**: per configuration, the fraction of pairs
  reached within x evaluations, each problem weighted equally (the mean of its per-problem
  ECDFs over seeds).

The reference is the exact front where a space has one, else the best-known front
(:mod:`wsbench.report.best_known`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from wsbench.experiments import stats
from wsbench.report.anytime import TARGETS, ecdf, reference_hv, runtimes
from wsbench.report.data import Results, TrialResult
from wsbench.report.model import Cell, Figure, Table

ACROSS = "(across problems)"  # the figures' key beside the tasks' own


def search_incomparable(res: Results) -> str | None:
    """Why the search views cannot rank this folder's configurations (None when they can):
    hypervolumes and evaluations-to-target compare optimizers over one space and one pair of
    objectives; configurations that search different spaces, or count size differently, put
    their fronts on different scales (whole methods are compared by their CR instead)."""
    kinds = {(t.trial.space.name, t.trial.size, t.trial.size_coding) for t in res.trials}
    if len(kinds) < 2:
        return None
    spaces = sorted({k[0] for k in kinds})
    sizes = sorted({f"{k[1]} ({k[2]})" if k[1] == "bits" else k[1] for k in kinds})
    return (f"The search views (leaderboard, expected running time, runtime ECDF, the fastest "
            f"configuration) are left out: these configurations search different spaces "
            f"({', '.join(spaces)}) with different size objectives ({', '.join(sizes)}), so "
            f"their hypervolumes and evaluation counts are not on one scale." if len(sizes) > 1 else
            f"The search views (leaderboard, expected running time, runtime ECDF, the fastest "
            f"configuration) are left out: these configurations search different spaces "
            f"({', '.join(spaces)}), so their evaluation counts are not on one scale.")


def ert(runtime: Sequence[float], spent: Sequence[float]) -> float:
    """COCO's expected running time: evaluations of every run (a failed run counts what it
    spent, a successful one what it needed) over the number of successes; inf with none."""
    rt, spent = np.asarray(runtime, dtype=float), np.asarray(spent, dtype=float)
    ok = np.isfinite(rt)
    return float((rt[ok].sum() + spent[~ok].sum()) / ok.sum()) if ok.any() else math.inf


def pooled_ecdf(per_problem: Sequence[np.ndarray], budgets: np.ndarray) -> np.ndarray:
    """Fraction of (problem, target) pairs reached within each budget: each problem's ECDF over
    its (seed, target) runtimes, averaged so that every problem weighs the same."""
    if not per_problem:
        return np.zeros(len(budgets))
    return np.mean([ecdf(r, budgets) for r in per_problem], axis=0)


def leaderboard_ranks(scores: Mapping[str, Mapping[str, float]]
                      ) -> tuple[dict[str, dict[str, float]], dict[str, float], float | None]:
    """Per-problem ranks (1 = highest score), mean ranks, and Friedman's p over problems.

    ``scores`` maps problem -> configuration -> score (e.g. median HV ratio); configurations
    missing on a problem are left out of every rank, as Friedman's test requires."""
    from scipy.stats import rankdata

    blocks = list(scores.values())
    mean, p = stats.average_ranks(blocks, higher_is_better=True)
    per = {prob: dict(zip(mean, rankdata([-row[c] for c in mean]).tolist()))
           for prob, row in scores.items()} if mean else {}
    return per, mean, p


def problem_scores(res: Results, key: str) -> dict[str, dict[str, float]]:
    """Median over seeds of indicator ``key`` per task and configuration."""
    from wsbench.report.columns import values

    out: dict[str, dict[str, float]] = {}
    for task in res.tasks:
        for c in res.configs:
            if vals := values(res.by_task(task), c, key):
                out.setdefault(task, {})[c] = stats.summarize(vals).median
    return {task: row for task, row in out.items() if row}


def leaderboard(res: Results) -> Table:
    key = "hv_ratio" if any("hv_ratio" in t.indicators for t in res.trials) else "hv"
    scores = problem_scores(res, key)
    per, mean, p = leaderboard_ranks(scores)
    problems = list(per)
    pair_p = signed_rank_pairs(scores, list(mean))
    best = min(mean.values()) if mean else None
    leader = min(mean, key=mean.get) if mean else None
    vs = control_pairs(scores, leader, list(mean)) if leader else {}
    rows = []
    for c in sorted(mean, key=mean.get):
        worse = [b for b in mean if (c, b) in pair_p and pair_p[c, b] < 0.05 and mean[b] < mean[c]]
        rows.append([Cell(c)] + [Cell(f"{per[prob][c]:g}") for prob in problems]
                    + [Cell(f"{mean[c]:.2f}", bold=mean[c] == best, mark="dagger" if worse else ""),
                       Cell(f"{vs[c]:.3g}" if c in vs else "-", bold=vs.get(c, 1.0) < 0.05)])
    what = "HV / reference front" if key == "hv_ratio" else "HV"
    n_pairs = len(mean) * (len(mean) - 1) // 2
    dropped = [c for c in res.configs if c not in mean]
    friedman = f"Friedman test over problems: p = {p:.3g}" if p is not None else "Friedman test: -"
    return Table("across-leaderboard",
                 f"Leaderboard over {len(problems)} problems: rank of each configuration's median "
                 f"{what} over seeds on each problem (1 = best), and the mean rank. {friedman}. "
                 f"Dagger: worse than a better-ranked configuration by a two-sided Wilcoxon "
                 f"signed-rank test over problems, Holm-corrected, p < 0.05 (with {len(problems)} "
                 f"problems and {n_pairs} pairs the smallest Holm-corrected p it can give is "
                 f"{min(1.0, n_pairs * _min_signed_rank_p(len(problems))):.3g})"
                 + (f"; left out, not run on every problem: {', '.join(dropped)}" if dropped else "")
                 + f". p vs {leader}: the best-ranked against each other configuration, Wilcoxon "
                 f"signed-rank over problems, Holm-corrected over those {max(len(mean) - 1, 0)} "
                 f"comparisons with a control (bold: p < 0.05).",
                 ["configuration"] + problems + ["mean rank", f"p vs {leader}"], rows)


def signed_rank_pairs(scores: Mapping[str, Mapping[str, float]], configs: list[str]
                       ) -> dict[tuple[str, str], float]:
    """Holm-corrected signed-rank p of every pair, paired by problem, both orders as keys."""
    from itertools import combinations

    pairs = list(combinations(configs, 2))
    raw = [stats.signed_rank_p([scores[p][a] for p in scores], [scores[p][b] for p in scores])
           for a, b in pairs]
    out = {}
    raw = [1.0 if math.isnan(v) else v for v in raw]
    for (a, b), q in zip(pairs, stats.holm(raw)):
        out[a, b] = out[b, a] = q
    return out


def control_pairs(scores: Mapping[str, Mapping[str, float]], control: str, configs: list[str]
                  ) -> dict[str, float]:
    """Holm-corrected signed-rank p of ``control`` against each other configuration, paired by
    problem: a family of k - 1 comparisons with a control (Demsar, JMLR 2006), not all k(k-1)/2
    pairs, so that nine problems can show a method ahead of each other one."""
    others = [c for c in configs if c != control]
    raw = [stats.signed_rank_p([scores[p][control] for p in scores], [scores[p][c] for p in scores])
           for c in others]
    return dict(zip(others, stats.holm([1.0 if math.isnan(v) else v for v in raw])))


def _min_signed_rank_p(n: int) -> float:
    """The smallest two-sided exact signed-rank p over n pairs: every sign alike, 2 / 2^n."""
    return min(1.0, 2.0 / 2 ** n) if n else 1.0


def ert_table(res: Results) -> Table:
    from wsbench.report.best_known import reached_share

    problems = [t for t in res.tasks if res.by_task(t)]
    shares = {task: reached_share(res, task) for task in problems}
    rows = []
    for c in res.configs:
        row = [Cell(c)]
        for task in problems:
            ts = [t for t in res.by_task(task) if t.config == c]
            hv_ref, _ = reference_hv(res, task)
            if not ts or hv_ref <= 0:
                row.append(Cell("-"))
                continue
            rt = runtimes(ts, hv_ref, np.array([shares[task]]))[:, 0]
            e = ert(rt, [len(t.curve) for t in ts])
            row.append(Cell(f"{e:.0f} ({int(np.isfinite(rt).sum())}/{len(ts)})"
                            if math.isfinite(e) else f"inf (0/{len(ts)})"))
        rows.append(row)
    return Table("across-ert",
                 "Expected running time (COCO's ERT) to each problem's reference HV: evaluations "
                 "spent by all seeds (a seed that never reached it counts all it spent) over the "
                 "seeds that reached it (in parentheses); inf: none did. The target is all of an "
                 "exact front's HV, 95% of a best-known front's (the union of every run, which no "
                 "single run holds).",
                 ["configuration"] + [f"{task} ({shares[task]:.0%})" for task in problems], rows)


def _per_problem_runtimes(res: Results, config: str) -> list[np.ndarray]:
    """Runtimes per problem; a problem the configuration did not run counts as never reached."""
    out = []
    for task in res.tasks:
        ts = [t for t in res.by_task(task) if t.config == config]
        hv_ref, _ = reference_hv(res, task)
        if hv_ref > 0 and res.by_task(task):
            out.append(runtimes(ts, hv_ref) if ts else np.full((1, len(TARGETS)), np.inf))
    return out


def ecdf_figure(res: Results, folder: Path) -> Figure | None:
    problems = [t for t in res.tasks if res.by_task(t)]
    if len(problems) < 2 or search_incomparable(res):
        return None
    top = max([res.exp.budget] + [len(t.curve) for t in res.trials])
    per = {c: _per_problem_runtimes(res, c) for c in res.configs}
    stem = plot_pooled_ecdf(per, top, folder / "across-ecdf", "unique evaluations",
                            f"All {len(problems)} problems", "problem")
    return Figure(stem, f"Runtime ECDF over all problems (as COCO aggregates): for HV targets from "
                  f"50% to 100% of each problem's reference HV, the fraction of (problem, target) "
                  f"pairs reached within x unique evaluations, each problem's pairs averaged over "
                  f"seeds and every problem weighted equally ({', '.join(problems)}).")


def plot_pooled_ecdf(per_config: Mapping[str, Sequence[np.ndarray]], top: float, stem: Path,
                     xlabel: str, title: str, unit: str) -> Path:
    """One step line per configuration of :func:`pooled_ecdf` over its per-problem runtimes
    (thicker first, so identical curves stay visible), log x up to ``top``; PNG and SVG."""
    from wsbench.report.plots import _colors, _plt, _save, legend_outside

    plt, colors = _plt(), _colors(list(per_config))
    x = np.unique(np.round(np.geomspace(1, top, 200)))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, (c, per) in enumerate(per_config.items()):
        ax.step(x, pooled_ecdf(per, x), where="post", color=colors[c],
                lw=2.2 - 1.2 * k / max(len(per_config), 1), label=c)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"fraction of ({unit}, target) pairs reached")
    ax.set_title(f"{title}: runtime ECDF over {len(TARGETS)} HV targets")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return _save(fig, stem)
