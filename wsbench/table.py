"""The Table-I-shaped summary of a compression run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from wsbench.records import Coding

if TYPE_CHECKING:
    from wsbench.pipeline import CompressResult, Scored

COLUMNS = ("method", "val", "test", "K", "d", "avg bits", "CR paper", "CR file")


def _range(values: Sequence[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}-{hi:{fmt}}"


def _row(label: str, items: list["Scored"], coding: Coding) -> dict[str, str]:
    models = [s.coded(coding) for s in items]
    return {
        "method": label,
        "val": _range([s.val for s in items], ".4f"),
        "test": _range([s.test for s in items], ".4f"),
        "K": _range([s.k for s in items], "d"),
        "d": _range([s.d for s in items], "d"),
        "avg bits": _range([m.avg_bits for m in models], ".2f"),
        "CR paper": _range([m.cr_paper for m in models], ".2f"),
        "CR file": _range([m.cr_file for m in models], ".2f"),
    }


def table_rows(result: "CompressResult") -> list[dict[str, str]]:
    """Rows: baseline, UB at K=1024, MO-UB front, + merge, + Huffman (and per-tensor Huffman
    tables, beyond the paper); ranges over the front."""
    rows = [{"method": "baseline", "val": f"{result.baseline_val:.4f}",
             "test": f"{result.baseline_test:.4f}", "K": "-", "d": f"{result.n_shared}",
             "avg bits": "32", "CR paper": "1.00", "CR file": "1.00"}]
    rows.append(_row(result.ub.label, [result.ub], Coding.FIXED))
    rows.append(_row("MO-UB", result.front, Coding.FIXED))
    if result.config.merge != "none":
        rows.append(_row("+ merge", result.merged, Coding.FIXED))
    rows.append(_row("+ Huffman", result.merged, Coding.HUFFMAN))
    rows.append(_row("+ per-tensor Huffman", result.merged, Coding.LAYER))  # beyond the paper, lossless
    return rows


def format_table(rows: list[dict[str, str]], metric: str = "f1", markdown: bool = False) -> str:
    names = {"val": f"val {metric}", "test": f"test {metric}"}
    header = [names.get(c, c) for c in COLUMNS]
    body = [[r[c] for c in COLUMNS] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    if markdown:
        line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
        sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([line(header), sep, *map(line, body)])
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, body)])
