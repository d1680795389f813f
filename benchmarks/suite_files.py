"""The files and the figure behind the compression goals of ``benchmarks/suite_goals.py``.

Each headline cell's file (the NNC standard's, every draw of the suite's best method, the
better Brevitas configuration's) is re-coded from the recorded decision with the trial's thread
count, decoded with ``wsbench.load_state_dict``, re-scored on validation and test and checked
against its record; ``artifacts.json`` lists every file and every headline cell without one.
The figure puts each method's CR over the standard's on every problem.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from suite_goals import STANDARD, median_cr, picks_of
from wsbench.report.methods import ONE_SE

MAX_BYTES = 400_000  # the bound on a headline file


def ratios(res) -> dict[tuple[str, str, float], list[float]]:
    """(problem, method family, drop) -> each draw's (calibration draw and seed) whole-file CR
    over the standard's, under the report's rule: 0 where a draw has nothing within the drop."""
    from wsbench.report.methods import default_rule

    rule, out = default_rule(res), {}
    for task in [t.label for t in res.exp.tasks]:
        picks, methods, seeds = picks_of(res, task, rule)
        for drop in res.exp.drops:
            ref = next((median_cr(picks.get((c, drop), {}), seeds[c]) for c, m in methods.items()
                        if m.kind == STANDARD), None)
            if not ref:
                continue
            for c, m in methods.items():
                if m.kind != STANDARD:
                    out.setdefault((task, m.family, drop), []).extend(
                        (p["cr_file"] or 0.0) / ref for p in picks.get((c, drop), {}).values())
    return {k: v for k, v in out.items() if v}


def figure(res, stem: Path) -> Path:
    """One panel per drop: each method's CR over the NNC standard's on every problem (a dot
    per draw, joined), the standard at 1 and the goals' 1.3 and 1.4 marked; a draw with nothing
    within the drop is an x at the left edge."""
    from matplotlib.ticker import ScalarFormatter

    from wsbench.report.plots import _colors, _plt, _save

    got = ratios(res)
    tasks = [t.label for t in res.exp.tasks]
    families = list(dict.fromkeys(f for _, f, _ in got))
    colors, plt = _colors(families), _plt()
    positive = [v for vs in got.values() for v in vs if v > 0] or [1.0]
    edge = min(positive + [1.0]) / 1.25  # where a draw with nothing within the drop is drawn
    fig, axes = plt.subplots(1, len(res.exp.drops), figsize=(5.2 * len(res.exp.drops), 0.45 * len(tasks) + 1.6),
                             sharey=True, squeeze=False)
    for ax, drop in zip(axes[0], res.exp.drops):
        for j, fam in enumerate(families):
            off = (j - (len(families) - 1) / 2) * 0.12  # side by side within a problem's row
            for i, task in enumerate(tasks):
                v = got.get((task, fam, drop), [])
                shown = [r for r in v if r > 0]
                if shown:
                    ax.plot([min(shown), max(shown)], [i + off] * 2, color=colors[fam], lw=1)
                    ax.scatter(shown, [i + off] * len(shown), s=16, color=colors[fam], label=fam)
                if len(shown) < len(v):
                    ax.scatter([edge], [i + off], s=22, marker="x", color=colors[fam], label=fam)
        ax.axvline(1.0, color="black", lw=0.8)
        for goal in (1.3, 1.4):
            ax.axvline(goal, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlim(left=edge / 1.1)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(ScalarFormatter())
        ax.tick_params(axis="x", which="both", labelsize=7)
        ax.set_title(f"within {100 * drop:g} pt (validation, 1 SE)", fontsize=10)
        ax.set_xlabel("whole-file CR / the NNC standard's (log)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_yticks(range(len(tasks)), tasks)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    axes[0][-1].legend(seen.values(), seen.keys(), fontsize=7, loc="upper left",
                       bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, stem)


def plan(rows: list[dict[str, Any]], selections: list[dict], rule: str
         ) -> tuple[dict[str, tuple[dict, dict, list[float]]], list[str], list[str]]:
    """The file of every headline cell: name -> (selection row, its pick under ``rule``, the
    drops that select that decision), one file per decision; the headline cells that should
    have one and cannot (no finished trial, or a method without a codec's own file); and
    those with nothing to write (no member within the drop)."""
    cells = {c for r in rows for c in r["cells"]}
    files: dict[tuple, tuple[dict, dict, list[float]]] = {}  # by decision, in selection order
    found, unwritable, empty = set(), [], []
    for r in selections:
        cell = (r["task"], r["space"]["label"], r["seed"], r["drop"])
        if cell not in cells:
            continue
        found.add(cell)
        pick = r["margin"] if rule == ONE_SE else r
        if pick is None or pick["x"] is None:
            empty.append(" ".join(map(str, cell)))
            continue
        if r["coding"] != "native":
            unwritable.append(f"{' '.join(map(str, cell))} (Huffman-coded: `wsbench compress` "
                              f"writes its files)")
            continue
        key = (r["task"], r["space"]["label"], r["seed"], tuple(pick["x"]))
        files.setdefault(key, (r, pick, []))[2].append(r["drop"])
    unwritable += [f"{' '.join(map(str, c))} (no finished trial)" for c in sorted(cells - found)]
    named = {}
    for r, pick, drops in files.values():
        permil = "-".join(str(round(1000 * d)) for d in drops)
        seed = f"-s{r['seed']}" if r["seed"] else ""
        named[f"{r['task']}-{r['space']['label']}{seed}-{permil}permil.wsb"] = (r, pick, drops)
    return named, unwritable, empty


def write_artifacts(folder: Path, rows: list[dict[str, Any]], out: Path, command: str
                    ) -> tuple[list[dict], list[str]]:
    """Write, decode, re-score and check each headline cell's file, one problem's harness at a
    time; keep the files of an earlier run whose decision and record still match, and drop from
    the folder the files of cells that are no longer headline. The listing names every file
    and every headline cell without one."""
    from codecs_table import harness, selections, write_artifact

    listing = out / "artifacts.json"
    before = {e["file"]: e for e in (json.loads(listing.read_text())["files"]
                                     if listing.is_file() else [])}
    rule = rows[0]["rule"] if rows else ONE_SE
    named, unwritable, empty = plan(rows, selections(folder)[1], rule)
    for name in set(before) - set(named):  # ours, from an earlier headline
        (out / name).unlink(missing_ok=True)
    entries: dict[str, dict] = {n: e for n, e in before.items() if n in named
                                and e["x"] == list(named[n][1]["x"]) and e["matches_record"]
                                and (out / n).is_file()}
    for task in dict.fromkeys(r["task"] for r, _, _ in named.values()):
        h, spaces = None, {}
        for name, (r, pick, drops) in named.items():
            if r["task"] != task or name in entries:
                continue
            h = h or harness(task, r["metric"], r["task_options"])
            entry = write_artifact(r, pick, name, [rule], h, out, spaces)
            entries[name] = {"task": task, **{k: v for k, v in entry.items() if k != "drop"},
                             "drops": drops}
            write_listing(listing, entries, unwritable, empty, command)
    write_listing(listing, entries, unwritable, empty, command)
    return [entries[n] for n in sorted(entries)], unwritable


def write_listing(path: Path, entries: dict[str, dict], unwritable: list[str], empty: list[str],
                   command: str) -> None:
    from wsbench.files.cache import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps({"command": command,
                                          "experiment": "benchmarks/suite-codecs.toml",
                                          "files": [entries[n] for n in sorted(entries)],
                                          "headline cells without a file": unwritable,
                                          "headline cells with no member within the drop": empty},
                                         indent=1) + "\n").encode())


def command(argv: list[str]) -> str:
    """The command line as run from the repository's root."""
    root = Path(__file__).resolve().parent.parent
    parts = []
    for a in argv:
        path = Path(a).resolve()
        parts.append(str(path.relative_to(root)) if not a.startswith("-") and path.is_relative_to(root)
                     and path.exists() else a)
    return "python benchmarks/suite_goals.py " + " ".join(parts)
