"""Benchmark figures (matplotlib, Agg), each saved as PNG and SVG under ``figures/``.

Per task: anytime hypervolume (median and IQR band per configuration), median attainment
surfaces against the exact front, best compression ratio against the allowed validation drop,
search time, unique evaluations needed to reach the exact front's hypervolume, and the anytime
views (fixed-target ECDF, fixed-budget HV; ``anytime.py``); where codecs are compared, whole
methods by file size and test drop (``methods_plot.py``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from wsbench.report.data import (
    Results,
    TrialResult,
    best_cr_curve,
    curves_on_grid,
    exact_hv,
    screened,
    screened_sentence,
    size_axis,
)
from wsbench.report.best_known import reference_name
from wsbench.report.model import Figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, stem: Path) -> Path:
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=130, bbox_inches="tight")  # legends outside kept
    fig.savefig(stem.with_suffix(".svg"), bbox_inches="tight")
    _plt().close(fig)
    return stem


def legend_outside(ax) -> None:
    """The legend right of the axes: inside, it sat on the curves' ends, where they differ."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)


def _colors(configs: list[str]) -> dict[str, tuple]:
    cmap = _plt().get_cmap("tab10" if len(configs) <= 10 else "tab20")
    return {c: cmap(i % cmap.N) for i, c in enumerate(configs)}


def overlap_labels(curves: dict[str, np.ndarray]) -> dict[str, str]:
    """Legend labels that name the curve each one coincides with ("random (= nsga2)"), so a
    legend entry whose line lies under another's still says where it is."""
    labels, seen = {}, []
    for c, y in curves.items():
        twin = next((o for o, v in seen if v.shape == y.shape and np.allclose(v, y, equal_nan=True)),
                    None)
        labels[c] = f"{c} (= {twin})" if twin else c
        seen.append((c, np.asarray(y, dtype=float)))
    return labels


def _widths(n: int) -> np.ndarray:
    """Line widths, thickest first: identical curves drawn later stay visible inside earlier ones."""
    return np.linspace(3.6, 1.2, max(n, 1))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def _groups(res: Results, task: str) -> dict[str, list[TrialResult]]:
    trials = res.by_task(task)
    return {c: [t for t in trials if t.config == c] for c in res.configs
            if any(t.config == c for t in trials)}


def hv_curves(res: Results, task: str, stem: Path) -> Figure:
    plt = _plt()
    groups = _groups(res, task)
    colors = _colors(list(groups))
    n = max([res.exp.budget] + [len(t.curve) for ts in groups.values() for t in ts])
    x = np.arange(1, n + 1)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bands = {c: np.quantile(curves_on_grid(ts, n), [0.25, 0.5, 0.75], axis=0)
             for c, ts in groups.items()}
    labels = overlap_labels({c: b[1] for c, b in bands.items()})
    for (c, (q1, med, q3)), lw in zip(bands.items(), _widths(len(bands))):
        ax.plot(x, med, color=colors[c], lw=lw, label=labels[c])
        ax.fill_between(x, q1, q3, color=colors[c], alpha=0.18, lw=0)
    for e in res.exact_for(task):
        if e.ok:
            ax.axhline(exact_hv(e, res.reference[task]), color="k", ls="--", lw=1,
                       label=f"{reference_name(res, task)} front")
    ax.set_xscale("log")
    ax.set_xlabel("unique evaluations")
    ax.set_ylabel("hypervolume (normalised)" + (f", {screened(res)}" if screened(res) else ""))
    ax.set_title(f"{task}: anytime hypervolume (median, IQR band)")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return Figure(_save(fig, stem), f"{task}: hypervolume of each trial's archive against unique "
                  f"evaluations; line = median over seeds, band = interquartile range."
                  + screened_sentence(res))


def attainment(fronts: list[np.ndarray], grid: np.ndarray) -> np.ndarray:
    """Median attainment surface in 2-D: per d on ``grid``, the median over runs of the best f1
    reached with at most that d (inf where a run has nothing yet)."""
    rows = []
    for F in fronts:
        best = np.full(len(grid), np.inf)
        for f1, d in F:
            best[grid >= d] = np.minimum(best[grid >= d], f1)
        rows.append(best)
    return np.median(np.array(rows), axis=0) if rows else np.full(len(grid), np.inf)


def fronts(res: Results, task: str, stem: Path) -> Figure:
    plt = _plt()
    groups = _groups(res, task)
    colors = _colors(list(groups))
    ds = [f[1] for ts in groups.values() for t in ts for f in t.record.archive.f]
    grid = np.unique(np.round(np.geomspace(max(1.0, min(ds, default=2)), max(ds, default=1024), 400)))
    base = next(iter(groups.values()))[0].record.baseline.val if groups else None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    surfaces = {c: attainment([np.asarray(t.record.archive.f) for t in ts], grid)
                for c, ts in groups.items()}
    labels = overlap_labels(surfaces)
    for ax, zoom in zip(axes, (False, True)):
        for (c, med), lw in zip(surfaces.items(), _widths(len(surfaces))):
            ax.step(grid, 1 - med, where="post", color=colors[c], lw=lw, alpha=0.85, label=labels[c])
        for e in res.exact_for(task):
            if e.ok:
                P = np.asarray(e.front_f)
                order = np.argsort(P[:, 1])
                ax.step(P[order, 1], 1 - P[order, 0], where="post", color="k", ls="--", lw=1,
                        label=f"{reference_name(res, task)} front")
        if base is not None:
            ax.axhline(base, color="tab:green", lw=0.8, ls=":", label="baseline (val)")
            if zoom:
                ax.set_ylim(base - 0.03, base + 0.012)
                near = [grid[np.argmax(1 - m >= base - 0.03)] for m in surfaces.values()
                        if np.any(1 - m >= base - 0.03)]
                if near:  # the axis starts where a surface enters the view
                    ax.set_xlim(min(near) / 1.2, grid[-1] * 1.1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(size_axis(res.exp.size, res.exp.size_coding)[0])
        ax.set_ylabel(f"validation {res.exp.metric}" + (f" ({screened(res)})" if screened(res) else ""))
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{task}: median attainment surfaces")
    axes[1].set_title("near the baseline")
    legend_outside(axes[1])
    return Figure(_save(fig, stem), f"{task}: median attainment surface of each configuration's "
                  f"archives (validation {res.exp.metric} reached with at most d shared values, "
                  f"median over seeds) and the {reference_name(res, task)} front; right: zoom near "
                  f"the baseline.")


def cr_vs_drop(res: Results, task: str, stem: Path) -> Figure:
    plt = _plt()
    groups = _groups(res, task)
    colors = _colors(list(groups))
    pts = {c: np.array([(t.record.baseline.val - s.val, s.cr_paper)
                        for t in ts for s in t.record.merged]).reshape(-1, 2)
           for c, ts in groups.items()}
    lowest = min([0.0] + [float(P[:, 0].min()) for P in pts.values() if len(P)])
    drops = np.linspace(lowest, res.exp.max_drop, 81)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    meds = {}
    for c, ts in groups.items():
        Y = np.array([best_cr_curve(t.record, drops) for t in ts])
        med = np.median(np.where(np.isnan(Y), -np.inf, Y), axis=0)  # no solution counts as worst
        med[~np.isfinite(med)] = np.nan
        meds[c] = med
    labels = overlap_labels(meds)
    for (c, med), lw in zip(meds.items(), _widths(len(meds))):
        ax.step(100 * drops, med, where="post", color=colors[c], lw=lw, alpha=0.85, label=labels[c])
        if len(pts[c]):
            ax.scatter(100 * pts[c][:, 0], pts[c][:, 1], s=9, color=colors[c], alpha=0.35)
    ax.axvline(0, color="tab:green", lw=0.8, ls=":")
    for d in res.exp.drops:
        ax.axvline(100 * d, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(f"validation {res.exp.metric} drop from the baseline [points] (< 0: above it)")
    ax.set_ylabel("paper CR after merge + Huffman")
    ax.set_title(f"{task}: best CR within a validation drop")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return Figure(_save(fig, stem), f"{task}: best paper compression ratio (32 / mean Huffman "
                  f"bits, after merging) among solutions whose validation {res.exp.metric} dropped by "
                  f"at most x points (the plain rule: the drop alone, without its standard "
                  f"error); lines: median over seeds; dots: every merged solution. "
                  f"Merging often raises validation {res.exp.metric} (negative drops): it is tuned on "
                  f"that split.")


def runtime(res: Results, task: str, stem: Path) -> Figure:
    plt = _plt()
    groups = _groups(res, task)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(groups) + 1.5))
    labels = list(groups)
    data = [[t.indicators["seconds_search"] for t in groups[c]] for c in labels]
    ax.boxplot(data, orientation="horizontal", tick_labels=labels, widths=0.6, showfliers=False)
    for i, vals in enumerate(data, start=1):
        ax.scatter(vals, np.full(len(vals), i), s=10, color="tab:blue", alpha=0.6, zorder=3)
    ax.set_xlabel("search wall time per trial [s] (evaluations included)")
    ax.invert_yaxis()  # the experiment's order, top down
    ax.set_title(f"{task}: search wall time per trial")
    ax.grid(alpha=0.3, axis="x")
    return Figure(_save(fig, stem), f"{task}: wall time of each trial's search (seconds, "
                  f"including its evaluations), box over seeds.")


def reach(res: Results, task: str, stem: Path) -> Figure | None:
    plt = _plt()
    groups = _groups(res, task)
    if not any("evals_to_100" in t.indicators for ts in groups.values() for t in ts):
        return None
    labels = list(groups)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(labels) + 2.0))
    never = res.exp.budget * 1.15
    ref = reference_name(res, task)
    for i, c in enumerate(labels, start=1):
        for key, off, marker, name in (("evals_to_99", -0.15, "o", f"99% of {ref} HV"),
                                       ("evals_to_100", 0.15, "D", f"{ref} HV")):
            v = np.array([t.indicators.get(key, math.nan) for t in groups[c]], dtype=float)
            shown = np.where(np.isfinite(v), v, never)
            ax.scatter(shown, np.full(len(v), i + off), marker=marker, s=22, alpha=0.7,
                       color="tab:orange" if key == "evals_to_99" else "tab:purple",
                       label=name if i == 1 else None)
            fin = v[np.isfinite(v)]
            if len(fin) * 2 > len(v):
                ax.plot([np.median(v)] * 2, [i + off - 0.12, i + off + 0.12], color="k", lw=1.5)
    ax.axvline(res.exp.budget, color="0.5", ls=":", lw=0.8)
    ax.text(never, 0.65, "never", ha="center", fontsize=7)
    ax.set_yticks(range(1, len(labels) + 1), labels)
    ax.set_ylim(0.5, len(labels) + 0.7)
    ax.set_xlabel("unique evaluations")
    ax.invert_yaxis()  # the experiment's order, top down
    ax.set_title(f"{task}: evaluations to reach the {ref} HV"
                 + (f" ({screened(res)})" if screened(res) else ""))
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return Figure(_save(fig, stem), f"{task}: unique evaluations each trial needed to reach 99% "
                  f"and 100% of the {ref} front's hypervolume (one marker per seed; bar = median "
                  f"when most seeds reached it; 'never' = not within the budget).")


def task_figures(res: Results, task: str, folder: Path) -> list[Figure]:
    """Every figure of one task; files under ``folder``."""
    base = folder / _safe(task)
    out = [hv_curves(res, task, Path(f"{base}-hv")), fronts(res, task, Path(f"{base}-fronts")),
           cr_vs_drop(res, task, Path(f"{base}-cr-drop")), runtime(res, task, Path(f"{base}-runtime"))]
    from wsbench.report.anytime import anytime_figure
    from wsbench.report.methods_plot import methods_figure

    extra = [reach(res, task, Path(f"{base}-reach")), anytime_figure(res, task, Path(f"{base}-anytime")),
             methods_figure(res, task, Path(f"{base}-methods"))]
    return out + [f for f in extra if f]
