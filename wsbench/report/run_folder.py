"""What a compression run writes to ``results/<run>/``: tables, CSVs, the front plot, one
compressed file per chosen solution and ``run.json``. How the folder is written atomically (a
staging folder, renamed when complete) is :mod:`wsbench.experiments.staging`'s.
"""

from __future__ import annotations

import csv
import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wsbench.experiments.provenance import run_info
from wsbench.experiments.records import Coding
from wsbench.experiments.staging import prepare_root, write_staged  # noqa: F401 - prepare_root: compress's import
from wsbench.report.paper_table import LATER_CODINGS
from wsbench.report.run_table import format_table, table_rows

if TYPE_CHECKING:
    from wsbench.experiments.compress_run import CompressResult
    from wsbench.experiments.records import Solution, TrialRecord


def run_name(result: "CompressResult") -> str:
    c = result.config
    return (f"compress-{c.task}-{c.optimizer}-{c.quantizer}-{c.merge}-s{c.seed}-"
            f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}")


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        if not rows:
            return
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def front_rows(record: "TrialRecord", bits: list[dict] | None = None) -> list[dict]:
    """front.csv: each chosen solution before and after merging, with its coded sizes and the
    merged model's cross-entropy in bits per prediction (``bits``: one dict per solution)."""
    rows = []
    for i, (s, m) in enumerate(zip(record.front, record.merged)):
        extra = ({f"merged_{split}_bits": v for split, v in bits[i].items()}
                 if bits and i < len(bits) else {})
        rows.append({
            "x": " ".join(f"{v:g}" for v in s.x), "K": s.k, "d": s.d,
            "val": s.val, "test": s.test, f"avg_{Coding.FIXED.bits_key}": s.sizes[Coding.FIXED].bits,
            "merged_d": m.d, "merged_val": m.val, "merged_test": m.test, **extra,
            **{k: v for c in (Coding.HUFFMAN, *LATER_CODINGS) if m.has(c) for k, v in _sizes(m, c).items()},
            "file": f"compressed/{file_name(m)}",
        })
    return rows


def _sizes(s: "Solution", coding: Coding) -> dict[str, float | None]:
    """The front.csv columns of one coding: the record's size keys, bits as ``avg_<key>``."""
    z = s.sizes[coding]
    return {f"avg_{coding.bits_key}": z.bits, coding.cr_paper_key: z.cr_paper,
            str(coding.cr_file_key): z.cr_file}


def file_name(s) -> str:
    return f"k{s.k}-d{s.d}.wsb"


def write_outputs(result: "CompressResult", out_root: str | Path, name: str | None = None) -> Path:
    """Write the run's files under ``out_root/name`` (default :func:`run_name`), atomically as
    a whole (:func:`wsbench.experiments.staging.write_staged`); the folder's path."""
    return write_staged(out_root, name or run_name(result), lambda stage: _write_stage(result, stage))


def _write_stage(result: "CompressResult", stage: Path) -> None:
    from wsbench.experiments.store import write_json
    from wsbench.report.run_plot import front_plot

    cfg, rec = result.config, result.record
    (stage / "compressed").mkdir(parents=True)
    rows = table_rows(rec, cfg.merge)
    (stage / "table.md").write_text(format_table(rows, cfg.metric, markdown=True) + "\n")
    _write_csv(stage / "table.csv", rows)
    _write_csv(stage / "front.csv", front_rows(rec, result.bits.get("solutions")))
    assert rec.archive is not None and rec.baseline is not None  # an ok record has both
    _write_csv(stage / "archive.csv", [{**{f"x{j}": v for j, v in enumerate(x)}, "f1": f[0], "f2": f[1]}
                                       for x, f in zip(rec.archive.x, rec.archive.f)])
    for m in result.merged:
        m.coded(cfg.coding).save(stage / "compressed" / file_name(m))
    front_plot(rec, cfg, stage / "front.png")
    write_json(stage / "trial.json", rec.to_dict(), compact=True)  # what `wsbench run` would write
    info = run_info(cfg.as_dict(), cfg.seed)
    info.update(requested_evaluations=rec.requested, unique_evaluations=rec.unique,
                merge_evaluations=rec.merge_evaluations, seconds=result.seconds,
                baseline=rec.baseline.to_dict(), n_shared_weights=rec.n_shared,
                original_bytes=rec.original_bytes, model=rec.model,
                bits_per_prediction={**result.bits, "files": [f"compressed/{file_name(m)}"
                                                              for m in result.merged]})
    (stage / "run.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
