"""The paper's Table I, per task: ranges over every seed's chosen solutions of a configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsbench.experiments.records import Baseline, Coding, Solution
from wsbench.report.columns import counted
from wsbench.report.model import Cell, Table

if TYPE_CHECKING:
    from wsbench.report.data import Results

COLUMNS = ["method", "val", "test", "K", "d", "avg bits", "CR paper", "CR file"]
# the codings beyond the paper (rows after "+ Huffman"; the paired coding table's rows)
LATER_CODINGS = {Coding.LAYER: "per-tensor Huffman", Coding.ADAPTIVE: "adaptive arithmetic",
                 Coding.NATIVE: "native coding"}  # native: a codec space's own payload


def _range(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def _row(label: str, sols: list[Solution], coding: Coding) -> list[str]:
    sizes = [s.sizes[coding] for s in sols]
    return [label, _range([s.val for s in sols], ".4f"), _range([s.test for s in sols], ".4f"),
            _range([s.k for s in sols], "d"), _range([s.d for s in sols], "d"),
            _range([z.bits for z in sizes], ".2f"), _range([z.cr_paper for z in sizes], ".2f"),
            _range([z.cr_file for z in sizes], ".2f") if coding.cr_file_key else "-"]


def table_one_rows(baseline: Baseline, n_shared: int | None, ub: Solution | None,
                   configs: list[tuple[str, list[Solution], list[Solution]]],
                   merge_row: bool = True) -> list[list[str]]:
    """The one Table I builder (the report's per task, ``wsbench compress``'s per run): baseline,
    UB (K=1024), then per configuration (tag, front, merged) MO-UB / + merge / + Huffman and the
    per-tensor Huffman and adaptive arithmetic rows beyond the paper; each cell a (min-max) range over the solutions."""
    rows = [["baseline", f"{baseline.val:.4f}", f"{baseline.test:.4f}", "-",
             str(n_shared if n_shared is not None else "-"), "32", "1.00", "1.00"]]
    if ub:
        rows.append(_row(f"UB (K={ub.k})", [ub], Coding.FIXED))
    for tag, front, merged in configs:
        rows.append(_row(f"MO-UB{tag}", front, Coding.FIXED))
        if merge_row:
            rows.append(_row(f"+ merge{tag}", merged, Coding.FIXED))
        rows.append(_row(f"+ Huffman{tag}", merged, Coding.HUFFMAN))
        for coding, name in LATER_CODINGS.items():  # older records lack them
            if merged and all(s.has(coding) for s in merged):
                rows.append(_row(f"+ {name}{tag}", merged, coding))
    return rows


def paper_table(res: "Results", task: str) -> Table | None:
    """Rows as in the paper, (min-max) over the chosen front members of all seeds."""
    trials = [t for t in res.by_task(task) if t.record.ok]
    if not trials:
        return None
    first = trials[0].record
    assert first.baseline is not None
    configs = [c for c in res.configs if any(t.config == c for t in trials)]
    groups = []
    for c in configs:
        recs = [t.record for t in trials if t.config == c]
        groups.append((f" [{c}]" if len(configs) > 1 else "", [s for r in recs for s in r.front],
                       [s for r in recs for s in r.merged]))
    rows = [[Cell(v) for v in row]
            for row in table_one_rows(first.baseline, first.n_shared, first.ub, groups)]
    metric, n = res.exp.metric, len(res.exp.seeds)
    seeds = f"all {counted(n, 'seed')}" if n > 1 else counted(n, "seed")
    return Table(f"table1-{task}", f"{task}: the paper's Table I. Ranges (min-max) over the chosen "
                 f"front members of {seeds}; val/test: {metric} re-scored on "
                 f"the full splits; avg bits per shared weight (fixed width ceil(log2 d), or mean "
                 f"Huffman code length, one shared table as the paper or one per tensor, or "
                 f"context-adaptive arithmetic coding, both beyond the paper); CR paper = 32 / avg bits; CR file = original state-dict "
                 f"bytes / compressed file bytes.", COLUMNS, rows)
