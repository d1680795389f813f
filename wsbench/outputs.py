"""Writing a compression run to ``results/<run>/``, atomically as a whole.

Everything is written into a hidden staging folder ``.<run>.partial`` that is renamed at the end,
so an interrupted run never leaves a folder that looks complete. The writer holds a lock on
``.<run>.partial.lock`` meanwhile: a staging folder whose lock is free was left by a killed run
and the next ``wsbench compress`` into that root removes it. Run folders get a random suffix and
a rename never replaces a finished folder, so runs ending in the same second keep both results.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wsbench import locking
from wsbench.errors import ConfigError
from wsbench.provenance import run_info
from wsbench.table import format_table, table_rows

if TYPE_CHECKING:
    from wsbench.pipeline import CompressResult


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


PARTIAL_MAX_AGE = 24 * 3600  # seconds: a staging folder with no lock file is then abandoned


def file_name(s) -> str:
    return f"k{s.k}-d{s.d}.wsb"


def write_outputs(result: "CompressResult", out_root: str | Path, name: str | None = None) -> Path:
    """Write the run's files under ``out_root/name`` (default :func:`run_name`); the folder's
    path (a fresh suffix is added rather than replace an existing folder)."""
    out_root = Path(out_root)
    name = name or run_name(result)
    stage = out_root / f".{name}.partial"
    lock = locking.take(stage.with_name(stage.name + ".lock"))
    if lock is None:
        raise ConfigError(f"{out_root / name}: another process is writing it")
    with lock:
        if stage.exists():  # left by a killed run of the same name: ours now
            shutil.rmtree(stage)
        try:
            _write_stage(result, stage)
            return _publish(stage, out_root, name)
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)


def _write_stage(result: "CompressResult", stage: Path) -> None:
    from wsbench.plots import front_plot

    (stage / "compressed").mkdir(parents=True)
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


def _publish(stage: Path, out_root: Path, name: str) -> Path:
    """Rename the staging folder to ``name``, or to ``name-<random>`` while that is taken:
    rename(2) never replaces a non-empty folder, so no finished run is ever overwritten."""
    final = out_root / name
    for _ in range(20):
        if not final.exists():
            try:
                os.rename(stage, final)
                return final
            except OSError:  # made meanwhile by another process
                pass
        final = out_root / f"{name}-{secrets.token_hex(3)}"
    raise FileExistsError(f"{out_root / name}: no free folder name")


def prepare_root(root: str | Path, name: str | None, flag: str = "--out") -> None:
    """Before a search: refuse a results root that cannot be written (a file, under a file, not
    writable) or a ``name`` already taken, and remove staging folders of killed runs."""
    root = Path(root)
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag}: {root}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag}: {root}: cannot write in {probe}")
    if name and os.path.lexists(root / name):
        raise ConfigError(f"{flag}: {root / name} already exists (choose another --name)")
    if root.is_dir():
        clean_partials(root)


def clean_partials(root: Path, max_age: float = PARTIAL_MAX_AGE) -> list[Path]:
    """Remove the staging folders under ``root`` that no live process holds; one without a lock
    file (an older wsbench's) only once it is ``max_age`` seconds old. What was removed."""
    removed = []
    for stage in sorted(Path(root).glob(".*.partial")):
        lock_path = stage.with_name(stage.name + ".lock")
        try:
            if not lock_path.exists() and time.time() - stage.stat().st_mtime < max_age:
                continue
        except FileNotFoundError:  # published or removed meanwhile
            continue
        lock = locking.take(lock_path)
        if lock is None:  # its run is still writing
            continue
        with lock:
            shutil.rmtree(stage, ignore_errors=True)
        removed.append(stage)
    return removed
