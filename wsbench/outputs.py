"""Writing a compression run to ``results/<run>/``, atomically as a whole.

Everything is written into a hidden staging folder that is renamed at the end, so an
interrupted run never leaves a folder that looks complete.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wsbench.provenance import run_info
from wsbench.table import format_table, table_rows

if TYPE_CHECKING:
    from wsbench.pipeline import CompressResult


def run_name(result: "CompressResult") -> str:
    c = result.config
    return (f"compress-{c.task}-{c.optimizer}-{c.quantizer}-{c.merge}-s{c.seed}-"
            f"{time.strftime('%Y%m%d-%H%M%S')}")


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        if not rows:
            return
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def front_rows(result: "CompressResult") -> list[dict]:
    rows = []
    for s, m in zip(result.front, result.merged):
        rows.append({
            "x": " ".join(f"{v:g}" for v in s.x), "K": s.k, "d": s.d,
            "val": s.val, "test": s.test, "avg_bits_fixed": s.fixed.avg_bits,
            "merged_d": m.d, "merged_val": m.val, "merged_test": m.test,
            "avg_bits_huffman": m.huffman.avg_bits, "cr_paper": m.huffman.cr_paper,
            "cr_file": m.huffman.cr_file, "avg_bits_layer": m.layer.avg_bits,
            "cr_paper_layer": m.layer.cr_paper, "cr_file_layer": m.layer.cr_file,
            "file": f"compressed/{file_name(m)}",
        })
    return rows


def file_name(s) -> str:
    return f"k{s.k}-d{s.d}.wsb"


def write_outputs(result: "CompressResult", out_root: str | Path, name: str | None = None) -> Path:
    from wsbench.plots import front_plot

    out_root = Path(out_root)
    final = out_root / (name or run_name(result))
    stage = out_root / f".{final.name}.partial"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "compressed").mkdir(parents=True)
    try:
        rows = table_rows(result)
        (stage / "table.md").write_text(format_table(rows, result.config.metric, markdown=True) + "\n")
        _write_csv(stage / "table.csv", rows)
        _write_csv(stage / "front.csv", front_rows(result))
        archive = [{**{f"x{j}": v for j, v in enumerate(x)}, "f1": f[0], "f2": f[1]}
                   for x, f in zip(result.archive_x, result.archive_f)]
        _write_csv(stage / "archive.csv", archive)
        for m in result.merged:
            m.coded(result.config.coding).save(stage / "compressed" / file_name(m))
        front_plot(result, stage / "front.png")
        info = run_info(result.config.as_dict(), result.config.seed)
        info.update(requested_evaluations=result.requested, unique_evaluations=result.unique,
                    merge_evaluations=result.merge_evaluations, seconds=result.seconds,
                    baseline={"val": result.baseline_val, "test": result.baseline_test},
                    n_shared_weights=result.n_shared, original_bytes=result.original_bytes,
                    model=result.model)
        (stage / "run.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
        if final.exists():
            raise FileExistsError(f"{final} already exists")
        os.replace(stage, final)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return final
