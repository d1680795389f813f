"""Whole compression methods in one picture: every front member's file size against its test
drop, and the member the report's rule selects on validation.

The methods table gives one number per method and drop; the picture shows why: how far each
method's trade-off reaches, and where the validation-selected point sits on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wsbench.report.data import Results
from wsbench.report.methods import default_rule, own_coding, select, summaries
from wsbench.report.model import Figure

MARKERS = ("o", "s", "D", "^", "v")  # the selected members, one marker per drop


def figure_points(res: Results, task: str, rule: str
                  ) -> dict[str, tuple[np.ndarray, list[tuple[int, float, float]]]]:
    """Per method of ``task``: every front member of every seed as (whole-file CR in its own
    coding, test drop in points), and each seed's selected members as (drop index, CR, test
    drop) under ``rule``."""
    out = {}
    trials = [t for t in res.by_task(task) if t.record.ok]
    for c in dict.fromkeys(t.config for t in trials):
        ts = [t for t in trials if t.config == c]
        key = {"native": "cr_file_native", "huffman": "cr_file"}[own_coding(ts[0].record)]
        dots = np.array([(s[key], 100 * (t.record.baseline.test - s.test))
                         for t in ts for s in t.record.front]).reshape(-1, 2)
        picks = [(i, p["cr_file"], p["test_drop"]) for t in ts
                 for i, p in enumerate(select(t.record, res.exp.drops, rule))
                 if p["cr_file"] is not None]
        out[c] = (dots, picks)
    return out


def methods_figure(res: Results, task: str, stem: Path) -> Figure | None:
    """None when no method of ``task`` has a codec's own coding (no methods table either)."""
    from wsbench.report.plots import _colors, _plt, _save, legend_outside

    rule = default_rule(res)
    if not summaries(res, task, rule):
        return None
    points = figure_points(res, task, rule)
    colors = _colors(list(points))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for c, (dots, picks) in points.items():
        ax.scatter(dots[:, 0], dots[:, 1], s=10, color=colors[c], alpha=0.35, label=c)
        for i, cr, drop in picks:
            ax.scatter(cr, drop, s=46, color=colors[c], marker=MARKERS[i % len(MARKERS)],
                       edgecolor="black", lw=0.6)
    for i, d in enumerate(res.exp.drops):
        ax.axhline(100 * d, color="0.5", lw=0.8, ls=":")
        ax.scatter([], [], s=46, marker=MARKERS[i % len(MARKERS)], facecolor="white",
                   edgecolor="black", lw=0.6, label=f"selected within {100 * d:g} pt (val)")
    ax.axhline(0, color="tab:green", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("whole-file compression ratio (each method's own coding)")
    ax.set_ylabel(f"test {res.exp.metric} drop [points]")
    seen = [float(y) for dots, _ in points.values() for y in dots[:, 1]]
    widest = 100 * max(res.exp.drops)  # the axis fits the points, up to 3x the widest drop
    top = min(max(seen + [widest]) * 1.1, 3 * widest)
    ax.set_ylim(bottom=min(seen + [0.0]) - 0.1 * top, top=top)
    ax.set_title(f"{task}: whole methods, file size against test drop")
    ax.grid(alpha=0.3, which="both")
    legend_outside(ax)
    return Figure(_save(fig, stem), f"{task}: every front member of every seed (dots) by its "
                  f"whole-file CR in the method's own coding and its test {res.exp.metric} drop; "
                  f"outlined markers: the member the report's rule ({rule}) selects on validation "
                  f"within each drop, one per seed. Drops above {top:.2g} points are cut off.")
