"""The Table-I-shaped summary of a compression run, as text, Markdown or CSV rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsbench.experiments.records import TrialRecord

COLUMNS = ("method", "val", "test", "K", "d", "avg bits", "CR paper", "CR file")


def table_rows(record: "TrialRecord", merge: str) -> list[dict[str, str]]:
    """The run's Table I (the report's builder over one record): baseline, UB, MO-UB front,
    + merge (unless ``merge`` is "none"), + Huffman, + per-tensor Huffman; ranges over the front."""
    from wsbench.report.paper_table import table_one_rows

    assert record.baseline is not None
    rows = table_one_rows(record.baseline, record.n_shared, record.ub,
                          [("", record.front, record.merged)], merge_row=merge != "none")
    return [dict(zip(COLUMNS, row)) for row in rows]


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
