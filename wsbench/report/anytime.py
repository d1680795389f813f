"""Anytime views as COCO and IOHanalyzer draw them: fixed-target ECDF and fixed-budget HV.

On real models an evaluation is a validation pass, so a method is judged by what it reaches
per unique evaluation, not only at the end of the budget:

* **fixed target** (COCO's runtime ECDF): for HV targets from 50% to 100% of the reference HV,
  the fraction of (seed, target) pairs reached within x unique evaluations;
* **fixed budget** (IOHanalyzer's fixed-budget view): the HV gap 1 - HV / reference reached at
  fixed budgets (median and IQR over seeds).

The reference HV is the exact front's when the space has one, otherwise the best-known front's
(the non-dominated union of every trial: COCO's reference for open problems,
:mod:`wsbench.report.best_known`), and the caption says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wsbench.experiments.indicators import evals_to_reach
from wsbench.report.data import Results, TrialResult, exact_hv, screened_sentence
from wsbench.report.model import Figure

# HV targets as fractions of the reference: gaps 1/2 ... 1/1000 on a log scale, and the reference
TARGETS = np.concatenate([1 - np.geomspace(0.5, 1e-3, 19), [1.0]])


def reference_hv(res: Results, task: str) -> tuple[float, str]:
    """The HV targets are fractions of: the exact front's HV, or the best any trial reached."""
    from wsbench.report.best_known import is_best_known

    fronts = sorted((e for e in res.exact_for(task) if e.ok), key=lambda e: not is_best_known(e))
    for e in fronts:  # a best-known front holds every exact front of the task's objectives
        if is_best_known(e):
            return exact_hv(e, res.reference[task]), ("the best-known front's HV (no exact front: "
                                                       "the non-dominated union of every trial)")
        return exact_hv(e, res.reference[task]), "the exact front's HV"
    best = max((float(t.curve[-1]) for t in res.by_task(task) if len(t.curve)), default=0.0)
    return best, "the best HV any trial of this task reached (no exact front)"


def runtimes(trials: list[TrialResult], hv_ref: float, targets: np.ndarray = TARGETS) -> np.ndarray:
    """Unique evaluations each trial (rows) needed for each target (columns); inf if never."""
    return curve_runtimes([t.curve for t in trials], hv_ref, targets)


def curve_runtimes(curves, hv_ref: float, targets=TARGETS) -> np.ndarray:
    """Evaluations each anytime HV curve (rows) needed for each target share of ``hv_ref``
    (columns); inf if never. Replays without trial records use it directly."""
    out = np.full((len(curves), len(targets)), np.inf)
    for i, curve in enumerate(curves):
        for j, frac in enumerate(targets):
            n = evals_to_reach(np.asarray(curve, dtype=float), frac * hv_ref)
            if n is not None:
                out[i, j] = n
    return out


def ecdf(runtime: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Fraction of (trial, target) pairs reached within each budget (COCO's runtime ECDF)."""
    flat = np.sort(np.asarray(runtime, dtype=np.float64).ravel())
    if not len(flat):
        return np.zeros(len(budgets))
    return np.searchsorted(flat, budgets, side="right") / len(flat)


def fixed_budget_gaps(trials: list[TrialResult], hv_ref: float, budgets: np.ndarray) -> np.ndarray:
    """HV gap 1 - HV / reference of each trial (rows) after each budget (columns)."""
    out = np.ones((len(trials), len(budgets)))
    for i, t in enumerate(trials):
        c = np.asarray(t.curve)
        for j, b in enumerate(budgets):
            if len(c):
                out[i, j] = 1 - c[min(int(b), len(c)) - 1] / hv_ref if hv_ref > 0 else np.nan
    return out


def anytime_figure(res: Results, task: str, stem: Path) -> Figure | None:
    """Fixed-target ECDF (left) and fixed-budget HV gap (right), every configuration on one figure."""
    from wsbench.report.plots import _colors, _groups, _plt, _save

    groups = _groups(res, task)
    hv_ref, what = reference_hv(res, task)
    if not groups or hv_ref <= 0:
        return None
    plt = _plt()
    colors = _colors(list(groups))
    top = max([res.exp.budget] + [len(t.curve) for ts in groups.values() for t in ts])
    x = np.unique(np.round(np.geomspace(1, top, 200)))
    budgets = np.unique(np.round(np.geomspace(5, top, 8)))
    floor = 1e-4  # gaps below it (the reference reached) are drawn on it
    unit = "unique evaluations"
    if any(t.record.charged for ts in groups.values() for t in ts):
        unit += " (+ margin estimates at their cost)"
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, (c, ts) in enumerate(groups.items()):
        left.step(x, ecdf(runtimes(ts, hv_ref), x), where="post", color=colors[c], lw=1.6, label=c)
        gaps = np.maximum(fixed_budget_gaps(ts, hv_ref, budgets), floor)
        q1, med, q3 = np.quantile(gaps, [0.25, 0.5, 0.75], axis=0)
        shift = budgets * 1.03 ** (k - len(groups) / 2)  # overlapping bars stay apart
        right.errorbar(shift, med, yerr=[med - q1, q3 - med], color=colors[c], marker="o", ms=3.5,
                       lw=1.2, capsize=2, label=c)
    left.set_xscale("log")
    left.set_ylim(0, 1.02)
    left.set_xlabel(unit)
    left.set_ylabel("fraction of (seed, target) pairs reached")
    left.set_title(f"{task}: fixed target (ECDF over {len(TARGETS)} HV targets)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.axhline(floor, color="k", ls="--", lw=0.8)
    right.set_xlabel(f"budget [{unit}]")
    right.set_ylabel("HV gap 1 - HV / reference")
    right.set_title(f"{task}: fixed budget (median, IQR)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    right.legend(fontsize=6, loc="lower left", framealpha=0.85)  # that corner stays empty
    return Figure(_save(fig, stem), f"{task}: anytime views. Left (fixed target, as COCO): the "
                  f"fraction of (seed, target) pairs reached within x {unit}, for "
                  f"{len(TARGETS)} HV targets from 50% to 99.9% and 100% of {what}. Right (fixed "
                  f"budget, as IOHanalyzer): the HV gap 1 - HV / reference after each budget, "
                  f"median and IQR over seeds; the dashed line marks {floor:g}, where gaps of "
                  f"zero (the reference reached) are drawn." + screened_sentence(res))
