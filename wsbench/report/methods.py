"""Whole compression methods side by side: each in its own file coding, selected on validation.

A codec space (NNC, Brevitas) is measured by the file it writes (``native``), every other
method by the paper's Huffman coding; within each drop of the experiment, the front member of
largest whole-file CR whose validation metric is within the drop is selected, and its test
metric reported. The report's rule adds to each member's drop its standard error (a paired
bootstrap kept in the record, :mod:`wsbench.search.drop_se`), so that a member within the drop
by luck of the validation split is passed over; the plain rule is shown beside it, labelled.
The MPEG NNC standard (the ``nncodec`` space with none of the options that go beyond it) is the
reference each method's CR is divided by, on the same problem.
:mod:`benchmarks.codecs_table` selects with this code too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from wsbench.report.model import Cell, Table

if TYPE_CHECKING:
    from wsbench.experiments.records import TrialRecord
    from wsbench.report.data import Results

# options of the nncodec space that keep it the standard (bounds of the search, a label)
STANDARD_OPTIONS = {"qp_min", "qp_max", "label", "use_dq"}
ONE_SE, PLAIN = "1 SE", "plain"  # the selection rules: drop + its standard error, or drop alone


def own_coding(record: "TrialRecord") -> str:
    """The file coding a method is measured in: a codec's own, else the paper's Huffman."""
    from wsbench.experiments.codings import Coding

    return "native" if record.front and record.front[0].has(Coding.NATIVE) else "huffman"


def is_standard(space: dict[str, Any]) -> bool:
    """Whether a trial's space is the NNC standard as published (no option beyond it)."""
    return space.get("name") == "nncodec" and set(space.get("options", {})) <= STANDARD_OPTIONS


def default_rule(res: "Results") -> str:
    """The one-standard-error margin where every record keeps its members' errors, else the
    plain rule: one rule for the whole report, never a mix over seeds."""
    from wsbench.experiments.indicators import has_se

    return ONE_SE if has_se([s for t in res.trials if t.record.ok for s in t.record.front]) else PLAIN


def select(record: "TrialRecord", drops: Iterable[float], rule: str = PLAIN
           ) -> list[dict[str, Any]]:
    """Per drop the record kept, its validation-selected member in its own coding (None where
    no member is within the drop): whole-file CR, val and test drops in points, decision; with
    ``rule`` ONE_SE, the drop plus its standard error must be within the drop."""
    from wsbench.experiments.indicators import within

    coding = own_coding(record)
    key = "cr_file_native" if coding == "native" else "cr_file"
    out = []
    for drop in [d for d in drops if d <= record.trial["max_drop"] + 1e-12]:
        ok = [s for s in record.front if within(s, record.baseline.val, drop, one_se=rule == ONE_SE)]
        best = max(ok, key=lambda s: s[key]) if ok else None
        out.append({"drop": drop, "coding": coding, "x": best["x"] if best else None,
                    "cr_file": best[key] if best else None,
                    "val_drop": 100 * (record.baseline.val - best.val) if best else None,
                    "se": 100 * best.val_se if best and best.val_se is not None else None,
                    "test_drop": 100 * (record.baseline.test - best.test) if best else None})
    return out


def summaries(res: "Results", task: str, rule: str) -> dict[tuple[str, float], dict[str, Any]]:
    """Per (method, drop) of ``task``: medians over seeds of the selected member's CR and
    drops, the ratio to the NNC standard's median CR at that drop, the coding and the count of
    seeds with a selection; empty when no method of the task has a codec's own coding."""
    picks: dict[tuple[str, float], list[dict]] = {}
    standard: dict[float, list[float]] = {}
    for t in (t for t in res.by_task(task) if t.record.ok):
        sec = per_decision(t.record)
        for pick in select(t.record, res.exp.drops, rule):
            picks.setdefault((t.config, pick["drop"]), []).append({**pick, "sec": sec})
            if is_standard(t.record.trial["space"]) and pick["cr_file"] is not None:
                standard.setdefault(pick["drop"], []).append(pick["cr_file"])
    if not any(p["coding"] == "native" for ps in picks.values() for p in ps):
        return {}
    out = {}
    for (config, drop), ps in picks.items():
        got = [p for p in ps if p["cr_file"] is not None]
        med = {k: float(np.median([p[k] for p in got])) if got else None
               for k in ("cr_file", "val_drop", "test_drop")}
        ref = float(np.median(standard[drop])) if standard.get(drop) else None
        secs = [p["sec"] for p in ps if p["sec"] is not None]
        med["sec"] = float(np.median(secs)) if secs else None
        out[config, drop] = {**med, "coding": ps[0]["coding"], "n": (len(got), len(ps)),
                             "ratio": med["cr_file"] / ref if ref and med["cr_file"] else None}
    return out


def per_decision(record: "TrialRecord") -> float | None:
    """Seconds a decision took, everything it needs included (a codec's calibration, GPTQ or
    GPFQ rounding, the scoring pass): the search's evaluation time over its unique decisions."""
    spent = (record.seconds or {}).get("evaluations")
    return float(spent) / record.unique if spent is not None and record.unique else None


CAPTION = ("each method in its own file coding (a codec's native bitstream, else Huffman); within "
           "each drop, the front member of largest whole-file CR whose validation {metric} is "
           "within the drop of the baseline's{margin}, reported on test; medians over seeds; vs "
           "NNC: the ratio to the MPEG NNC standard's CR at the same rule and drop on the same "
           "problem (the nncodec space with no option beyond the standard).")
SECONDS = (" s / decision: seconds one decision took on the machine that ran it (calibration, "
           "rounding and the validation pass), median over seeds.")
MARGINS = {ONE_SE: " by at least its standard error (rule: 1 SE, a one-standard-error margin "
                   "from a paired bootstrap over the validation items)",
           PLAIN: " (rule: plain, the drop alone)"}


def methods_table(res: "Results", task: str, rule: str | None = None) -> Table | None:
    """One row per method and drop of ``task`` under ``rule`` (the report's default when None);
    None when no method has a codec's coding."""
    default = default_rule(res)
    rule = rule or default
    rows = summaries(res, task, rule)
    if not rows:
        return None
    out = [[Cell(config), Cell(r["coding"]), Cell(f"{100 * drop:g} pt"), Cell(_fmt(r["cr_file"])),
            Cell(_ratio(r["ratio"])), Cell(_fmt(r["val_drop"])), Cell(_fmt(r["test_drop"])),
            Cell("{}/{}".format(*r["n"])), Cell(_fmt(r["sec"]))] for (config, drop), r in rows.items()]
    _bold_best(out, group=2, value=3)
    name = (f"methods-{task}" if rule == default
            else f"methods-{'plain' if rule == PLAIN else '1se'}-{task}")
    return Table(name, f"{task}: whole compression methods, "
                 + CAPTION.format(metric=res.exp.metric, margin=MARGINS[rule])
                 + " Selected: seeds with a member within the drop." + SECONDS,
                 ["method", "coding", "within (val)", "whole-file CR", "vs NNC", "val drop (pt)",
                  "test drop (pt)", "selected", "s / decision"], out)


def methods_across(res: "Results") -> Table | None:
    """One row per problem and method: CR and test drop at each drop, and the ratio to the
    NNC standard on that problem; None when no problem compares codecs."""
    drops, rule = list(res.exp.drops), default_rule(res)
    out = []
    for task in res.tasks:
        rows = summaries(res, task, rule)
        for config in dict.fromkeys(c for c, _ in rows):
            cells = [Cell(task), Cell(config)]
            for d in drops:
                r = rows.get((config, d), {})
                cells += [Cell(_fmt(r.get("cr_file"))), Cell(_ratio(r.get("ratio"))),
                          Cell(_fmt(r.get("test_drop")))]
            # a trial's time does not depend on the drop: any drop's median is the method's
            secs = [rows[config, d]["sec"] for d in drops if (config, d) in rows]
            out.append(cells + [Cell(_fmt(secs[0] if secs else None))])
    if not out:
        return None
    header = ["problem", "method"]
    for d in drops:
        header += [f"CR @{100 * d:g}pt", f"vs NNC @{100 * d:g}pt", f"test drop @{100 * d:g}pt"]
    return Table("methods-across", "Compression across problems: " + CAPTION.format(
        metric=res.exp.metric, margin=MARGINS[rule]) + SECONDS, header + ["s / decision"], out)


def _bold_best(rows: list[list[Cell]], group: int, value: int) -> None:
    """Bold the largest value of column ``value`` among rows of equal column ``group``."""
    best: dict[str, tuple[float, int]] = {}
    for i, r in enumerate(rows):
        if r[value].text != "-" and float(r[value].text) > best.get(r[group].text, (0.0, -1))[0]:
            best[r[group].text] = (float(r[value].text), i)
    for _, i in best.values():
        rows[i][value].bold = True


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"
