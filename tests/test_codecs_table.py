"""benchmarks/codecs_table.py: which selections become committed files."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from codecs_table import picks  # noqa: E402


def row(coding: str, x, margin=None) -> dict:
    return {"coding": coding, "x": x, "cr_file": 10.0, "test_drop": 0.3, "margin": margin}


def test_plain_picks_of_codecs_and_margin_picks_only_where_they_differ():
    same = row("native", [-20.0], {"x": [-20.0], "cr_file": 10.0, "test_drop": 0.3})
    other = row("native", [-17.0], {"x": [-20.0], "cr_file": 12.5, "test_drop": 0.2})
    rows = [row("huffman", [33.0]), same, other, row("native", None, None),
            row("native", None, {"x": [-24.0], "cr_file": 9.0, "test_drop": 0.1})]
    got = [(id(r), p["x"], suffix, rules) for r, p, suffix, rules in picks(rows)]
    both, margin = ["plain", "one standard error"], ["one standard error"]
    assert got == [(id(same), [-20.0], "", both), (id(other), [-17.0], "", ["plain"]),
                   (id(other), [-20.0], "-margin", margin), (id(rows[4]), [-24.0], "-margin", margin)]
