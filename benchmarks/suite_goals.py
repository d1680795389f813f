"""Issue 33's and issue 30's compression goals, judged on a finished ``suite-codecs`` folder.

    python benchmarks/suite_goals.py [results/suite-codecs] [--artifacts benchmarks/artifacts/suite]
        [--figure benchmarks/artifacts/suite-codecs]

Every member is selected as the report selects (:func:`wsbench.report.methods.select`, its
default rule: one standard error where the records keep the errors). A method run in several
calibration draws (its space's ``calib_seed``, label ending ``-c<seed>``) or seeds is one
method, and the goals must hold in each draw: it is judged on its worst one. The suite's best
method on a problem is the one, other than the NNC standard and the library baselines
(Brevitas), whose worst draw has the largest whole-file CR; it is compared with the
standard's and with Brevitas' better configuration's CR (medians over their seeds) at the same
rule and drop. A goal whose trials have not all finished is "not judged", never met.

With ``--artifacts DIR``, each headline cell's file is written there and checked, and with
``--figure`` the methods' CR over the standard's is drawn (``benchmarks/suite_files.py``):
files are named ``<problem>-<method>-<drops>permil.wsb``, one where both drops select the same
decision; files already listed with the same decision and a matching record are kept, so an
interrupted run picks up where it stopped; exit 1 if a file differs from its record, is over
400 kB or a headline cell that should have a file has none.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


STANDARD, LIBRARY, SUITE = "standard", "library", "suite"


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
    draw: str = ""   # the calibration draw ("c6"), "" for a method drawn once


def method_of(config: str, space: dict[str, Any]) -> Method:
    """Which method a configuration is, and which draws belong together."""
    from wsbench.report.data import STALE_MARK
    from wsbench.report.methods import is_standard

    config = config.removesuffix(STALE_MARK)
    seed = space.get("options", {}).get("calib_seed")
    family = re.sub(rf"-c{seed}(?= /|$)", "", config) if seed is not None else config
    kind = (STANDARD if is_standard(space) else LIBRARY if space.get("name") == "brevitas"
            else SUITE)
    return Method(config, family, kind, space.get("label", ""),
                  f"c{seed}" if family != config else "")


Picks = dict[tuple[str, float], dict[int, dict]]  # (config, drop) -> seed -> the selected member


def median_cr(got: dict[int, dict], seeds: list[int]) -> float | None:
    """A configuration's median whole-file CR over its seeds (0 for a seed with nothing within
    the drop); None until every seed has finished."""
    if not set(got) >= set(seeds):
        return None
    return float(np.median([p["cr_file"] or 0.0 for p in got.values()]))


def judge(picks: Picks, methods: dict[str, Method], seeds: dict[str, list[int]], task: str,
          drop: float, goals=GOALS) -> dict[str, Any]:
    """One problem and drop: the suite's best method by its worst draw (every calibration draw
    and seed), the NNC standard and the best library baseline (medians over their seeds), the
    ratios and each goal that applies: met, not met, or not judged while a trial it needs is
    missing. ``seeds`` are the seeds the experiment runs of each configuration."""
    def got(c: str) -> dict[int, dict]:
        return picks.get((c, drop), {})

    def done(c: str) -> bool:
        return set(got(c)) >= set(seeds[c])

    def cr(p: dict) -> float:
        return p["cr_file"] or 0.0  # no member within the drop: nothing compressed

    def median(c: str) -> float | None:
        return median_cr(got(c), seeds[c])

    by_kind = {k: [c for c, m in methods.items() if m.kind == k] for k in (STANDARD, LIBRARY, SUITE)}
    families: dict[str, list[str]] = {}
    for c in by_kind[SUITE]:
        families.setdefault(methods[c].family, []).append(c)
    std = median(by_kind[STANDARD][0]) if by_kind[STANDARD] else None
    std_why = (["the NNC standard has not finished"] if std is None else
               ["the NNC standard has no member within the drop"] if std == 0.0 else [])
    worst = {f: min(cr(p) for c in cs for p in got(c).values()) if all(done(c) for c in cs) else None
             for f, cs in families.items()}
    # a family with trials still to come can only lose CR (its worst draw is a minimum): once
    # what it has finished is below a complete family's worst draw, it cannot be the best
    bound = {f: min([cr(p) for c in cs for p in got(c).values()], default=np.inf)
             for f, cs in families.items() if worst[f] is None}
    complete = [f for f in families if worst[f] is not None]
    best = max(complete, key=lambda f: (worst[f], f)) if complete else None
    open_ = [f for f, b in bound.items() if best is None or b > worst[best]]
    # an open family could only take over with a larger worst draw: the complete best's is a
    # lower bound of the final one, enough to settle a goal it already meets
    low = worst[best] if best is not None else None
    missing = sum(len(set(seeds[c]) - set(got(c))) for f in open_ for c in families[f])
    suite_why = ([f"{missing} suite trial(s) that could change the best method missing"] if open_
                 else [] if families else ["no suite method"])
    if best is None and families:  # shown "so far": the open family that leads on what it
        # has finished; one with nothing finished yet has nothing to show
        best = max(families, key=lambda f: (bound[f] < np.inf, bound[f], f))
    draws = [(c, s) for c in families.get(best, []) for s in seeds[c]]
    libs = {c: median(c) for c in by_kind[LIBRARY]}
    lib = max(libs, key=lambda c: libs[c] or 0.0) if libs else None
    lib_why = (["no library baseline"] if not libs else ["a library baseline has not finished"]
               if any(v is None for v in libs.values()) else
               ["no library baseline has a member within the drop"] if not libs[lib] else [])
    w = worst.get(best) if not open_ else None
    row = {"task": task, "drop": drop, "method": best, "decided": not suite_why,
           "draws": [(methods[c].draw + (f"s{s}" if len(seeds[c]) > 1 else ""),
                      got(c)[s]["cr_file"] if s in got(c) else None,
                      got(c)[s]["test_drop"] if s in got(c) else None) for c, s in draws],
           "standard": std, "library": lib, "library_cr": libs.get(lib) if lib else None,
           "vs_standard": w / std if w is not None and std else None,
           "vs_library": w / libs[lib] if w is not None and lib and libs[lib] else None,
           "cells": {(task, methods[c].space, s, drop) for c in
                     [*by_kind[STANDARD], *families.get(best, []), *([lib] if lib else [])]
                     for s in seeds[c]},
           "goals": []}
    for g in goals:
        if not task.startswith(g.prefix) or abs(g.drop - drop) > 1e-12:
            continue
        lib_cr = row["library_cr"]
        checks = [(f"x NNC >= {g.vs_standard}", g.vs_standard, row["vs_standard"], std_why,
                   low / std if low is not None and std else None),
                  (f"x Brevitas >= {g.vs_library}", g.vs_library, row["vs_library"], lib_why,
                   low / lib_cr if low is not None and lib_cr else None),
                  (f"CR >= {g.cr_each_draw} each draw", g.cr_each_draw, w, [], low)]
        for name, floor, value, others, lower in checks:
            if floor is None:
                continue
            blockers = others + suite_why
            status = ("met (the missing suite trials could only raise it)"
                      if blockers and not others and lower is not None and lower >= floor
                      else f"not judged ({'; '.join(blockers)})" if blockers or value is None
                      else "met" if value >= floor else "not met")
            row["goals"].append((name, status))
    return row


def picks_of(res, task: str, rule: str) -> tuple[Picks, dict[str, Method], dict[str, list[int]]]:
    """The report's selection (:func:`wsbench.report.methods.select`) of every finished trial of
    ``task`` per drop and seed; every configuration the experiment runs on it and its seeds. A
    record made by other code than this checkout's (kept by ``--keep-stale``, or not yet run
    again) counts as not finished: a verdict must come from the code that publishes it."""
    from wsbench.report.data import config_label
    from wsbench.report.methods import select

    methods, seeds = {}, {}
    for t in res.exp.trials():
        if t.task.label == task:
            m = method_of(config_label(t, res.varying), t.space.as_dict())
            methods[m.config] = m
            seeds.setdefault(m.config, []).append(t.seed)
    picks: Picks = {}
    for t in res.by_task(task):
        if t.record.ok and (t.record.id or t.record.key) not in res.stale:
            config = method_of(t.config, t.record.trial["space"]).config
            for p in select(t.record, res.exp.drops, rule):
                picks.setdefault((config, p["drop"]), {})[t.record.trial["seed"]] = p
    return picks, methods, seeds


def rows_of(res) -> list[dict[str, Any]]:
    """Every (problem, drop) of a loaded results folder, judged under the report's rule."""
    from wsbench.report.methods import default_rule

    rule = default_rule(res)
    out = []
    for task in [t.label for t in res.exp.tasks]:
        picks, methods, seeds = picks_of(res, task, rule)
        out += [{**judge(picks, methods, seeds, task, drop), "rule": rule} for drop in res.exp.drops]
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """The goal table: one line per problem and drop."""
    def f(v: float | None, unit: str = "") -> str:  # 0: nothing within the drop
        return "-" if not v else f"{v:.2f}{unit}"

    def test(v: float | None, drop: float) -> str:  # bold: past the drop on test
        return "-" if v is None else f"**{v:.2f}**" if v > 100 * drop + 1e-9 else f"{v:.2f}"

    out = ["| problem | within (val) | suite's best | CR per draw | test drop per draw (pt) "
           "| NNC standard CR | x NNC | Brevitas best CR | x Brevitas | goals |",
           "|:---|---:|:---|:---|:---|---:|---:|---:|---:|:---|"]
    for r in rows:
        goals = "; ".join(f"{name}: {'**not met**' if st == 'not met' else st}"
                          for name, st in r["goals"])
        method = (r["method"] or "-").removesuffix(" / exhaustive / none") + (
            "" if r["decided"] else " (so far)")
        out.append(
            f"| {r['task']} | {100 * r['drop']:g} pt | {method} "
            f"| {', '.join(f'{n} {f(v)}' if n else f(v) for n, v, _ in r['draws']) or '-'} "
            f"| {', '.join(test(t, r['drop']) for _, _, t in r['draws']) or '-'} "
            f"| {f(r['standard'])} | {f(r['vs_standard'], 'x')} | {f(r['library_cr'])} "
            f"| {f(r['vs_library'], 'x')} | {goals or '-'} |")
    return "\n".join(out)


def table(res, rows: list[dict[str, Any]] | None = None) -> str:
    """The block ``results.py`` writes into RESULTS.md (from ``rows`` where already judged)."""
    rows = rows_of(res) if rows is None else rows
    states = [st for r in rows for _, st in r["goals"]]
    judged = [st for st in states if not st.startswith("not judged")]
    return ("*Issue 33's and issue 30's compression goals on the table above. Selection on "
            f"validation under the report's rule ({rows[0]['rule'] if rows else '-'}), verdicts "
            "on whole-file CR alone: the suite's best method is the one (other than the standard "
            "and Brevitas) whose worst draw, over calibration draws and seeds, compresses most; "
            "x NNC and x Brevitas divide that worst draw's CR by the standard's and by Brevitas' "
            "better configuration's (medians over their seeds). CR and test drop are listed per "
            "draw; a test drop in bold is past the drop. A goal is not judged while a trial it "
            "needs has not finished, unless those finished settle it: a method still to finish "
            "could only become the best with a larger worst draw, so a goal the complete best "
            "method already meets stays met.*\n\n" + markdown(rows)
            + f"\n\nGoals: {sum(st.startswith('met') for st in judged)} met, "
              f"{judged.count('not met')} not met, "
              f"{len(states) - len(judged)} not judged, of {len(states)}."
            + (f" Not counted: {len(res.stale)} record(s) made by other code than this "
               "checkout's (`wsbench run` runs them again)." if res.stale else ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="?", type=Path, default=Path("results/suite-codecs"))
    p.add_argument("--artifacts", type=Path, help="write, decode and re-score each headline file here")
    p.add_argument("--figure", type=Path, metavar="STEM",
                   help="draw each method's CR over the standard's on every problem (STEM.png, .svg)")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    from suite_files import MAX_BYTES, command, figure, write_artifacts
    from wsbench.errors import WsbenchError
    from wsbench.report.data import load_results

    try:
        if not (args.results / "experiment.json").is_file():
            raise WsbenchError(f"{args.results}: not a results folder (no experiment.json)")
        res = load_results(args.results)
        rows = rows_of(res)
        print(table(res, rows))
        if args.figure:
            print(f"figure: {figure(res, args.figure).with_suffix('.png')}")
        if args.artifacts:
            entries, unwritable = write_artifacts(args.results, rows, args.artifacts, command(argv))
            big = [e["file"] for e in entries if e["bytes"] > MAX_BYTES]
            bad = [e["file"] for e in entries if not e["matches_record"]]
            print(f"{len(entries)} file(s) in {args.artifacts}; over {MAX_BYTES} bytes: "
                  f"{', '.join(big) or 'none'}; differing from the record: {', '.join(bad) or 'none'}; "
                  f"headline cells without a file: {'; '.join(unwritable) or 'none'}")
            if big or bad or unwritable:
                return 1
    except WsbenchError as exc:
        print(f"suite_goals: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
