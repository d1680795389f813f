"""Decode every ``.wsb`` file of a ``wsbench compress`` run folder and score it again.

    python benchmarks/check_decoded.py RUN_FOLDER TASK [--metric accuracy]

Each file is loaded with ``wsbench.load_state_dict`` into the task's model and scored on
validation and test; a file matches when both equal, bit for bit, those of a solution in the
folder's ``trial.json``. Exit 1 when a file matches none.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a wsbench compress run folder")
    ap.add_argument("task", help="the task it compressed")
    ap.add_argument("--metric", default="accuracy", help="the run's metric (default: accuracy)")
    args = ap.parse_args(argv)
    from wsbench import load_state_dict, plugins
    from wsbench.search.fitness import FitnessHarness

    rec = json.loads((args.folder / "trial.json").read_text())
    d = plugins.create("task", args.task).load(progress=False)
    h = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       device="cpu", metric=args.metric)
    sols = (rec.get("merged") or []) + (rec.get("front") or [])
    bad = 0
    for path in sorted((args.folder / "compressed").glob("*.wsb")):
        d.model.load_state_dict(load_state_dict(path))
        val, test = h.score_current("val"), h.score_current("test")
        ok = any(s["val"] == val and s["test"] == test for s in sols)
        bad += not ok
        print(f"{path.name}: {path.stat().st_size} bytes, val {val!r}, test {test!r}: "
              + ("matches the record" if ok else "MATCHES NO SOLUTION OF THE RECORD"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
