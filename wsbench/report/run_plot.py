"""Figures of a compression run (matplotlib is imported only when a figure is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.records import TrialRecord


def front_plot(rec: "TrialRecord", cfg: "CompressConfig", path: Path) -> Path:
    """Validation metric against d: every evaluation, the chosen front, and after merging."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wsbench.report.data import size_axis

    metric = cfg.metric
    size_label, size_of = size_axis(cfg.size, cfg.size_coding)
    archive_f = np.asarray(rec.archive.f if rec.archive else [], dtype=float).reshape(-1, 2)
    base = rec.baseline
    assert base is not None
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    if len(archive_f):
        ax.scatter(archive_f[:, 1], 1 - archive_f[:, 0], s=8, c="0.75",
                   label="evaluated (val)")
    for items, style, label in ((rec.front, dict(marker="o", c="tab:blue"), "front (val)"),
                                (rec.front, dict(marker="x", c="tab:blue"), "front (test)"),
                                (rec.merged, dict(marker="s", c="tab:red"), "merged (val)"),
                                (rec.merged, dict(marker="+", c="tab:red"), "merged (test)")):
        if cfg.merge == "none" and items is rec.merged:
            continue
        ys = [s.val if "val" in label else s.test for s in items]
        ax.scatter([size_of(s) for s in items], ys, s=28, label=label, **style)
    if abs(base.val - base.test) < 5e-4:  # one line, not two drawn on top of each other
        ax.axhline(base.val, color="tab:green", lw=1, ls="--", label="baseline (val = test)")
    else:
        ax.axhline(base.val, color="tab:green", lw=1, ls="--", label="baseline (val)")
        ax.axhline(base.test, color="tab:green", lw=1, ls=":", label="baseline (test)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(size_label)
    ax.set_ylabel(f"{metric}")
    lo = max(0.0, min([base.test, base.val] + [s.test for s in rec.merged]) - 0.05)
    ax.set_ylim(lo, 1.0)
    shown = [size_of(s) for s in (*rec.front, *rec.merged)]
    shown += [d for f1, d in archive_f if 1 - f1 >= lo]
    if shown:  # the axis spans the points in view, not the coarse evaluations below them
        ax.set_xlim(min(shown) / 1.3, max(shown) * 1.3)
    ax.set_title(f"{cfg.task}: {cfg.optimizer} / {cfg.quantizer} / merge {cfg.merge} "
                 f"(seed {cfg.seed})")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
