"""Figures of a compression run (matplotlib is imported only when a figure is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsbench.pipeline import CompressResult


def front_plot(result: "CompressResult", path: Path) -> Path:
    """Validation metric against d: every evaluation, the chosen front, and after merging."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = result.config.metric
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    if len(result.archive_f):
        ax.scatter(result.archive_f[:, 1], 1 - result.archive_f[:, 0], s=8, c="0.75",
                   label="evaluated (val)")
    for items, style, label in ((result.front, dict(marker="o", c="tab:blue"), "front (val)"),
                                (result.front, dict(marker="x", c="tab:blue"), "front (test)"),
                                (result.merged, dict(marker="s", c="tab:red"), "merged (val)"),
                                (result.merged, dict(marker="+", c="tab:red"), "merged (test)")):
        if result.config.merge == "none" and items is result.merged:
            continue
        ys = [s.val if "val" in label else s.test for s in items]
        ax.scatter([s.d for s in items], ys, s=28, label=label, **style)
    ax.axhline(result.baseline_val, color="tab:green", lw=1, ls="--", label="baseline (val)")
    ax.axhline(result.baseline_test, color="tab:green", lw=1, ls=":", label="baseline (test)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("d (number of shared values)")
    ax.set_ylabel(f"{metric}")
    lo = min([result.baseline_test, result.baseline_val] + [s.test for s in result.merged]) - 0.05
    ax.set_ylim(max(0.0, lo), 1.0)
    ax.set_title(f"{result.config.task}: {result.config.optimizer} / {result.config.quantizer}"
                 f" / merge {result.config.merge} (seed {result.config.seed})")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
