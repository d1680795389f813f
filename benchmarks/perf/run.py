"""Run the sections, print the table and the goals, and write the figures as JSON."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Callable

from .common import Report, fmt

# section id -> (module, function): each function fills the report
SECTIONS: dict[str, tuple[str, str]] = {
    "overhead": ("harness", "run"),
    "quantizers": ("quantizers", "run"),
    "coding": ("coding", "run"),
    "search": ("search", "run"),
    "screening": ("search", "run_screening"),
    "end-to-end": ("endtoend", "run"),
    "population": ("harness", "run_population"),
    "device": ("device", "run"),
    "executors": ("executors", "run"),
}
# sections a plain `wsbench bench` leaves out: named with --section only
ON_REQUEST = {"executors"}  # runs an experiment three times (~11 min on 2 cores; --quick ~2)


def _section(name: str) -> Callable[[Report, bool], None]:
    module, func = SECTIONS[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), func)


def format_report(report: Report, machine: dict) -> str:
    """The figures and the goals as two plain-text tables."""
    lines = [f"machine: {machine.get('processor')} ({machine.get('cpu_count')} CPUs, "
             f"{machine.get('torch_threads')} torch threads), {machine.get('platform')}, "
             f"{machine.get('cuda_device') or 'no GPU'}"
             + ("; --quick" if report.quick else "")]
    width = max([len(r.metric) for r in report.rows] + [10])
    section = None
    for r in report.rows:
        if r.section != section:
            section = r.section
            lines += ["", f"== {section}"]
        note = f"  ({r.note})" if r.note else ""
        lines.append(f"  {r.metric:<{width}}  {fmt(r.value):>16} {r.unit:<6}{note}")
    lines += ["", "== goals"]
    for g in report.goals:
        verdict = {True: "HOLDS", False: "FAILS", None: "n/a"}[g.holds]
        lines.append(f"  [{verdict:>5}] {g.goal}: {g.measured}")
    return "\n".join(lines)


def run_all(quick: bool = False, sections: list[str] | None = None, json_path: Path | None = None,
            echo: Callable[[str], None] = print, device: str = "cpu") -> Report:
    """Run ``sections`` (all by default) in order; return the report (and write it as JSON).

    ``device`` is where the harness sections (overhead, population, device) run; by default
    the device section runs only when that is not the CPU."""
    from wsbench.experiments.provenance import run_info

    # the device section at full size is a GPU's work (hours of ResNet-18 passes on a CPU)
    names = sections or [s for s in SECTIONS
                         if (s != "device" or device != "cpu") and s not in ON_REQUEST]
    report = Report(quick, device)
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        echo(f"bench: {name} ...")
        _section(name)(report, quick)
        echo(f"bench: {name} done in {time.perf_counter() - t0:.1f} s")
    info = run_info({"quick": quick, "sections": names, "device": device}, seed=0)
    echo(format_report(report, info["machine"]))
    echo(f"\nbench: {time.perf_counter() - start:.1f} s in all")
    if json_path is not None:
        from wsbench.files.cache import atomic_write_bytes

        data = {**report.as_dict(), "seconds": time.perf_counter() - start, "provenance": info}
        atomic_write_bytes(Path(json_path), json.dumps(data, indent=2, default=str).encode())
    return report
