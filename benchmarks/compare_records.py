"""Compare the trial records of two results folders, timings and provenance aside.

    python benchmarks/compare_records.py results/quick /tmp/quick-elsewhere

Reproducibility checks (another machine, other kernels, 1 or 2 threads, an executor, a
refactoring that must not change results) ask whether two runs found the same things: every
evaluation, front and merged solution, and the exact fronts. Exit 0 when every trial present in
both folders is identical, 1 otherwise (and the differing trials are named).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# what depends on the machine or the moment, not on the method
IGNORED = {"seconds", "provenance", "started", "finished"}


def comparable(record: Any) -> Any:
    """The record without its timings and provenance, at any depth."""
    if isinstance(record, dict):
        return {k: comparable(v) for k, v in record.items() if k not in IGNORED}
    if isinstance(record, list):
        return [comparable(v) for v in record]
    return record


def load(folder: Path, sub: str) -> dict[str, Any]:
    return {p.name: comparable(json.loads(p.read_text())) for p in sorted((folder / sub).glob("*.json"))}


def compare(a: Path, b: Path) -> tuple[list[str], list[str], list[str]]:
    """(identical, differing, only in one folder) file names over trials/ and exact/."""
    same, differ, alone = [], [], []
    for sub in ("trials", "exact"):
        ra, rb = load(a, sub), load(b, sub)
        for name in sorted(set(ra) | set(rb)):
            label = f"{sub}/{name}"
            if name not in ra or name not in rb:
                alone.append(label)
            elif ra[name] == rb[name]:
                same.append(label)
            else:
                differ.append(label)
    return same, differ, alone


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args(argv)
    same, differ, alone = compare(args.a, args.b)
    for label in differ:
        print(f"differs: {label}")
    print(f"{len(same)} identical, {len(differ)} differ, {len(alone)} in one folder only")
    return 1 if differ or not same else 0


if __name__ == "__main__":
    raise SystemExit(main())
