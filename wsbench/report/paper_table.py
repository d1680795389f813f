"""The paper's Table I, per task: ranges over every seed's chosen solutions of a configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsbench.records import Coding, Solution
from wsbench.report.model import Cell, Table

if TYPE_CHECKING:
    from wsbench.report.data import Results

COLUMNS = ["method", "val", "test", "K", "d", "avg bits", "CR paper", "CR file"]


def _range(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def _row(label: str, sols: list[Solution], coding: Coding) -> list[Cell]:
    sizes = [s.sizes[coding] for s in sols]
    return [Cell(label), Cell(_range([s.val for s in sols], ".4f")),
            Cell(_range([s.test for s in sols], ".4f")), Cell(_range([s.k for s in sols], "d")),
            Cell(_range([s.d for s in sols], "d")), Cell(_range([z.bits for z in sizes], ".2f")),
            Cell(_range([z.cr_paper for z in sizes], ".2f")),
            Cell(_range([z.cr_file for z in sizes], ".2f") if coding.cr_file_key else "-")]


def paper_table(res: "Results", task: str) -> Table | None:
    """Rows as in the paper: baseline, UB (K=1024), then MO-UB / + merge / + Huffman per
    configuration; (min-max) over the chosen front members of all seeds."""
    trials = [t for t in res.by_task(task) if t.record.ok]
    if not trials:
        return None
    first = trials[0].record
    base = first.baseline
    assert base is not None
    rows = [[Cell("baseline"), Cell(f"{base.val:.4f}"), Cell(f"{base.test:.4f}"), Cell("-"),
             Cell(str(first.n_shared if first.n_shared is not None else "-")), Cell("32"),
             Cell("1.00"), Cell("1.00")]]
    if first.ub:
        rows.append(_row("UB (K=1024)", [first.ub], Coding.FIXED))
    configs = [c for c in res.configs if any(t.config == c for t in trials)]
    for c in configs:
        recs = [t.record for t in trials if t.config == c]
        front = [s for r in recs for s in r.front]
        merged = [s for r in recs for s in r.merged]
        tag = f" [{c}]" if len(configs) > 1 else ""
        rows += [_row(f"MO-UB{tag}", front, Coding.FIXED), _row(f"+ merge{tag}", merged, Coding.FIXED),
                 _row(f"+ Huffman{tag}", merged, Coding.HUFFMAN)]
        if merged and all(s.has(Coding.LAYER) for s in merged):  # older records lack it
            rows.append(_row(f"+ per-tensor Huffman{tag}", merged, Coding.LAYER))
    metric = res.exp.metric
    return Table(f"table1-{task}", f"{task}: the paper's Table I. Ranges (min-max) over the chosen "
                 f"front members of all {len(res.exp.seeds)} seeds; val/test: {metric} re-scored on "
                 f"the full splits; avg bits per shared weight (fixed width ceil(log2 d), or mean "
                 f"Huffman code length, one shared table as the paper or one per tensor, beyond the "
                 f"paper); CR paper = 32 / avg bits; CR file = original state-dict "
                 f"bytes / compressed file bytes.", COLUMNS, rows)
