"""Recode the unmerged front members of finished trials with both Huffman codings.

    python benchmarks/recode.py results/paper-cifar10-cpu [--merge neighbor]

The per-tensor coding is lossless, so each member keeps the validation and test metric its
trial recorded; only the sizes change. Records written before wsbench stored per-tensor sizes
(the merged solutions need the merge to be rerun) can be compared this way without running
any evaluation: each member is re-quantized from its K with the trial's quantizer.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    import numpy as np

    from wsbench import plugins
    from wsbench.codec.compress import CompressedModel
    from wsbench.codec.weights import WeightView

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--merge", default="neighbor", help="trials of this merge label (default neighbor)")
    args = ap.parse_args()
    records = [json.loads(p.read_text()) for p in sorted((args.results / "trials").glob("*.json"))]
    records = [r for r in records if r.get("status") == "ok" and r["trial"]["merge"]["label"] == args.merge]
    if not records:
        raise SystemExit(f"no finished trials with merge {args.merge!r} in {args.results}")
    views: dict[str, WeightView] = {}
    print("| task | seed | K | d | test | bits shared | bits per-tensor | CR paper shared | "
          "CR paper per-tensor | CR file shared | CR file per-tensor | table bytes shared | "
          "table bytes per-tensor |")
    print("|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    gains = []
    for rec in records:
        trial = rec["trial"]
        task = trial["task"]["name"]
        if task not in views:
            data = plugins.create("task", task, **trial["task"]["options"]).load(progress=False)
            views[task] = WeightView.of(data.model, trial["include"])
        view = views[task]
        quantizer = plugins.create("quantizer", trial["quantizer"]["name"], **trial["quantizer"]["options"])
        for s in rec["front"]:
            q = quantizer.quantize(view.original, s["k"])
            assert q.d == s["d"], "the quantizer no longer reproduces this record"
            g, lay = (CompressedModel.from_view(view, q, trial["quantizer"]["name"], c)
                      for c in ("huffman", "huffman-layer"))
            gains.append((lay.cr_paper / g.cr_paper - 1, lay.cr_file / g.cr_file - 1))
            table = g._encoded[0]  # the paper's file stores it as int64 counts and symbols
            shared_table, layer_table = 8 * (table.count.size + table.symbol.size), lay._encoded[0].table_bytes()
            print(f"| {task} | {trial['seed']} | {s['k']} | {s['d']} | {s['test']:.4f} | "
                  f"{g.avg_bits:.3f} | {lay.avg_bits:.3f} | {g.cr_paper:.2f} | {lay.cr_paper:.2f} | "
                  f"{g.cr_file:.2f} | {lay.cr_file:.2f} | {shared_table} | {layer_table} |")
    paper, file = np.array(gains).T
    print(f"\n{len(gains)} members: CR paper +{100 * np.median(paper):.1f}% median "
          f"({100 * paper.min():+.1f}% to {100 * paper.max():+.1f}%), whole-file CR "
          f"+{100 * np.median(file):.1f}% ({100 * file.min():+.1f}% to {100 * file.max():+.1f}%)")


if __name__ == "__main__":
    main()
