"""Issue 33's and issue 30's compression goals, judged on a finished ``suite-codecs`` folder.

    python benchmarks/suite_goals.py [results/suite-codecs] [--artifacts benchmarks/artifacts/suite]
        [--figure benchmarks/artifacts/suite-codecs]

Every figure is the report's (:func:`wsbench.report.methods.summaries`, one-standard-error rule,
medians over seeds); this script only groups them. A method run in several calibration draws
(its space's ``calib_seed``, label ending ``-c<seed>``) is one method: the goal must hold in
each draw, so it is judged on the worst one. The suite's best method on a problem is the
method, other than the NNC standard and the library baselines (Brevitas), whose worst draw has
the largest whole-file CR; it is compared with the standard and with the better of Brevitas'
configurations at the same rule and drop.

With ``--artifacts DIR``, each headline cell's file is written there
(``<problem>-<method>-<drops>permil.wsb``, one file where both drops select the same
decision: the standard's, every draw of the suite's best method, and
the best Brevitas configuration's, at each drop): re-coded from the recorded decision, decoded
with ``wsbench.load_state_dict``, re-scored on validation and test and checked against its
record, with ``artifacts.json`` saying what each is. Files already listed there with the same
decision and a matching record are kept, so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STANDARD, LIBRARY, SUITE = "standard", "library", "suite"
MAX_BYTES = 400_000  # the bound on a headline file


@dataclass(frozen=True)
class Goal:
    """A goal on the problems whose name starts with ``prefix``, at ``drop``."""
    prefix: str
    drop: float
    vs_standard: float | None = None   # the worst draw's CR over the standard's
    vs_library: float | None = None    # ... over the best library baseline's
    cr_each_draw: float | None = None  # an absolute CR every draw must reach


GOALS = (  # issue 33 (compression) and issue 30, as pre-registered in RESULTS.md section 8
    Goal("cifar10-", 0.005, vs_standard=1.4, vs_library=1.2),
    Goal("cifar10-", 0.01, vs_standard=1.4, vs_library=1.2),
    Goal("cifar10-resnet56-idelbayev", 0.005, cr_each_draw=16.0),
    Goal("cifar10-resnet56-idelbayev", 0.01, cr_each_draw=20.0),
    Goal("shakespeare-", 0.01, vs_standard=1.3),
)


@dataclass(frozen=True)
class Method:
    config: str  # the report's configuration label
    family: str  # the same without its calibration draw
    kind: str    # STANDARD, LIBRARY or SUITE
    space: str = ""  # the space's label (what a headline file is named after)


def method_of(config: str, space: dict[str, Any]) -> Method:
    """Which method a configuration is, and which draws belong together."""
    from wsbench.report.methods import is_standard

    seed = space.get("options", {}).get("calib_seed")
    family = re.sub(rf"-c{seed}(?= /|$)", "", config) if seed is not None else config
    kind = (STANDARD if is_standard(space) else LIBRARY if space.get("name") == "brevitas"
            else SUITE)
    return Method(config, family, kind, space.get("label", ""))


def judge(cells: dict[tuple[str, float], dict], methods: dict[str, Method], task: str,
          drop: float, goals=GOALS) -> dict[str, Any] | None:
    """One problem and drop: the suite's best method (worst draw), the standard, the best
    library baseline, their ratios and each goal that applies, met or not. ``cells`` maps
    (config, drop) to the report's summary (``cr_file``, ``test_drop``); None without a standard."""
    def cr(config: str) -> float:
        c = cells.get((config, drop)) or {}
        return c.get("cr_file") or 0.0  # no member within the drop: nothing compressed

    std = [m.config for m in methods.values() if m.kind == STANDARD and (m.config, drop) in cells]
    if not std:
        return None
    families: dict[str, list[str]] = {}
    for m in methods.values():
        if m.kind == SUITE and (m.config, drop) in cells:
            families.setdefault(m.family, []).append(m.config)
    if not families:
        return None
    best = max(families, key=lambda f: (min(cr(c) for c in families[f]), f))
    draws = families[best]
    worst = min(cr(c) for c in draws)
    libs = [m.config for m in methods.values() if m.kind == LIBRARY and (m.config, drop) in cells]
    lib = max(libs, key=cr) if libs else None
    std_cr = cr(std[0])
    row = {"task": task, "drop": drop, "method": best, "draws": draws,
           "files": [methods[c].space for c in [std[0], *draws, *([lib] if lib else [])]],
           "cr": [cr(c) for c in draws], "test_drop": [(cells[c, drop] or {}).get("test_drop")
                                                      for c in draws],
           "standard": std_cr, "library": lib, "library_cr": cr(lib) if lib else None,
           "vs_standard": worst / std_cr if std_cr else None,
           "vs_library": worst / cr(lib) if lib and cr(lib) else None, "goals": []}
    for g in goals:
        if not task.startswith(g.prefix) or abs(g.drop - drop) > 1e-12:
            continue
        if g.vs_standard is not None:
            row["goals"].append((f"x NNC >= {g.vs_standard}", row["vs_standard"] is not None
                                 and row["vs_standard"] >= g.vs_standard))
        if g.vs_library is not None:
            row["goals"].append((f"x Brevitas >= {g.vs_library}", row["vs_library"] is not None
                                 and row["vs_library"] >= g.vs_library))
        if g.cr_each_draw is not None:
            row["goals"].append((f"CR >= {g.cr_each_draw} each draw", worst >= g.cr_each_draw))
    return row


def rows_of(res) -> list[dict[str, Any]]:
    """Every (problem, drop) of a loaded results folder, judged under the report's rule."""
    from wsbench.report.methods import default_rule, summaries

    rule = default_rule(res)
    out = []
    for task in res.tasks:
        methods = {t.config: method_of(t.config, t.record.trial["space"])
                   for t in res.by_task(task) if t.record.ok}
        cells = summaries(res, task, rule)
        for drop in res.exp.drops:
            row = judge(cells, methods, task, drop)
            if row:
                out.append({**row, "rule": rule})
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """The goal table: one line per problem and drop."""
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    out = ["| problem | within | suite's best (draws) | CR | test drop (pt) | NNC standard CR "
           "| x NNC | Brevitas best CR | x Brevitas | goals |",
           "|:---|---:|:---|---:|---:|---:|---:|---:|---:|:---|"]
    for r in rows:
        goals = "; ".join(f"{name}: {'met' if ok else '**not met**'}" for name, ok in r["goals"])
        out.append(
            f"| {r['task']} | {100 * r['drop']:g} pt | {r['method']} ({len(r['draws'])}) "
            f"| {' / '.join(f(v) for v in r['cr'])} | {' / '.join(f(v) for v in r['test_drop'])} "
            f"| {f(r['standard'])} | {f(r['vs_standard'])}x | {f(r['library_cr'])} "
            f"| {f(r['vs_library'])}x | {goals or '-'} |")
    return "\n".join(out)


def table(res) -> str:
    """The block ``results.py`` writes into RESULTS.md."""
    rows = rows_of(res)
    met = [ok for r in rows for _, ok in r["goals"]]
    return ("*Issue 33's and issue 30's compression goals, from the table above (rule: "
            f"{rows[0]['rule'] if rows else '-'}). A method with several calibration draws is "
            "judged on its worst draw (x NNC, x Brevitas: the worst draw's CR over the standard's "
            "and over Brevitas' better configuration's); CR and test drop list every draw.*\n\n"
            + markdown(rows) + f"\n\nGoals met: {sum(met)} of {len(met)}.")


def ratios(res) -> dict[tuple[str, str, float], list[float]]:
    """(problem, method family, drop) -> each draw's whole-file CR over the standard's, under
    the report's rule (0 where a draw has nothing within the drop)."""
    from wsbench.report.methods import default_rule, summaries

    rule, out = default_rule(res), {}
    for task in res.tasks:
        methods = {t.config: method_of(t.config, t.record.trial["space"])
                   for t in res.by_task(task) if t.record.ok}
        cells = summaries(res, task, rule)
        for drop in res.exp.drops:
            std = [cells[c, drop]["cr_file"] for c, m in methods.items()
                   if m.kind == STANDARD and (c, drop) in cells]
            if not std or not std[0]:
                continue
            for c, m in methods.items():
                if (c, drop) in cells and m.kind != STANDARD:
                    cr = cells[c, drop]["cr_file"] or 0.0
                    out.setdefault((task, m.family, drop), []).append(cr / std[0])
    return out


def figure(res, stem: Path) -> Path:
    """One panel per drop: each method's CR over the NNC standard's on every problem (a dot
    per calibration draw, joined), the standard at 1 and the goals' 1.4 marked; a draw with
    nothing within the drop has no dot."""
    from matplotlib.ticker import ScalarFormatter

    from wsbench.report.plots import _colors, _plt, _save

    got = ratios(res)
    tasks = list(res.tasks)
    families = list(dict.fromkeys(f for _, f, _ in got))
    colors, plt = _colors(families), _plt()
    fig, axes = plt.subplots(1, len(res.exp.drops), figsize=(5.2 * len(res.exp.drops), 0.45 * len(tasks) + 1.6),
                             sharey=True, squeeze=False)
    for ax, drop in zip(axes[0], res.exp.drops):
        for j, fam in enumerate(families):
            off = (j - (len(families) - 1) / 2) * 0.12  # side by side within a problem's row
            for i, task in enumerate(tasks):
                v = [r for r in got.get((task, fam, drop), []) if r > 0]  # 0: none within
                if not v:
                    continue
                ax.plot([min(v), max(v)], [i + off] * 2, color=colors[fam], lw=1)
                ax.scatter(v, [i + off] * len(v), s=16, color=colors[fam], label=fam)
        ax.axvline(1.0, color="black", lw=0.8)
        ax.axvline(1.4, color="0.5", lw=0.8, ls="--")
        ax.set_xscale("log")
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


def headline(rows: list[dict[str, Any]]) -> set[tuple[str, str, float]]:
    """(problem, space label, drop) of every headline cell: the standard's, each draw of the
    suite's best method, the best Brevitas configuration's."""
    return {(r["task"], label, r["drop"]) for r in rows for label in r["files"]}


def write_artifacts(folder: Path, rows: list[dict[str, Any]], out: Path) -> list[dict]:
    """Write, decode, re-score and check each headline cell's file (the 1 SE pick), one
    problem's harness at a time; keep the entries of files already done."""
    from codecs_table import harness, selections, write_artifact

    listing = out / "artifacts.json"
    done = {e["file"]: e for e in (json.loads(listing.read_text())["files"]
                                   if listing.is_file() else [])}
    cells = headline(rows)
    _, picks = selections(folder)
    groups: dict[tuple, list[dict]] = {}  # one file per decision, whichever drops select it
    for r in picks:
        if (r["task"], r["space"]["label"], r["drop"]) not in cells or r["margin"] is None:
            continue
        if r["coding"] != "native":
            print(f"not written: {r['task']} {r['method']} (Huffman-coded: `wsbench compress` "
                  f"writes its files)", file=sys.stderr)
            continue
        key = (r["task"], r["space"]["label"], r["seed"], tuple(r["margin"]["x"]))
        groups.setdefault(key, []).append(r)
    entries = []
    for task in dict.fromkeys(k[0] for k in groups):
        h, spaces = None, {}
        for (_, label, seed, x), rs in ((k, v) for k, v in groups.items() if k[0] == task):
            permil = "-".join(str(round(1000 * r["drop"])) for r in rs)
            name = f"{task}-{label}{f'-s{seed}' if seed else ''}-{permil}permil.wsb"
            old = done.get(name)
            if old and old["x"] == list(x) and old["matches_record"] and (out / name).is_file():
                entries.append(old)
                continue
            r = rs[0]
            h = h or harness(task, r["metric"], r["task_options"])
            entry = write_artifact(r, r["margin"], name, ["one standard error"], h, out, spaces)
            entry = {"task": task, **{k: v for k, v in entry.items() if k != "drop"},
                     "drops": [r["drop"] for r in rs]}
            entries.append(entry)
            done[name] = entry
            _write_listing(listing, list(done.values()))
    return entries


def _write_listing(path: Path, files: list[dict]) -> None:
    from wsbench.files.cache import atomic_write_bytes

    command = "python benchmarks/suite_goals.py " + " ".join(sys.argv[1:])
    atomic_write_bytes(path, (json.dumps({"command": command,
                                          "experiment": "benchmarks/suite-codecs.toml",
                                          "files": sorted(files, key=lambda e: e["file"])},
                                         indent=1) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="?", type=Path, default=Path("results/suite-codecs"))
    p.add_argument("--artifacts", type=Path, help="write, decode and re-score each headline file here")
    p.add_argument("--figure", type=Path, metavar="STEM",
                   help="draw each method's CR over the standard's on every problem (STEM.png, .svg)")
    args = p.parse_args(argv)
    from wsbench.errors import WsbenchError
    from wsbench.report.data import load_results

    try:
        if not (args.results / "experiment.json").is_file():
            raise WsbenchError(f"{args.results}: not a results folder (no experiment.json)")
        res = load_results(args.results)
        print(table(res))
        if args.figure:
            print(f"figure: {figure(res, args.figure).with_suffix('.png')}")
        if args.artifacts:
            entries = write_artifacts(args.results, rows_of(res), args.artifacts)
            big = [e["file"] for e in entries if e["bytes"] > MAX_BYTES]
            bad = [e["file"] for e in entries if not e["matches_record"]]
            print(f"{len(entries)} file(s) in {args.artifacts}; over {MAX_BYTES} bytes: "
                  f"{', '.join(big) or 'none'}; differing from the record: {', '.join(bad) or 'none'}")
            if bad:
                return 1
    except WsbenchError as exc:
        print(f"suite_goals: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
