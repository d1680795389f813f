"""Section ``executors``: one experiment through ``local``, ``process`` and ``dask`` (2 workers).

``benchmarks/quick-k.toml`` (``--quick``: its first 2 seeds) with 1 torch thread per trial, each
run from an empty results folder: the wall time of the whole ``run_experiment`` call (pool or
cluster start-up included) and, apart, the time after start-up; the speed-up over ``local``;
and whether the records are identical (``benchmarks/compare_records.py``, timings aside). Goal:
at least 1.7x with 2 workers on 2 cores.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .common import Report

SECTION = "executors"
WORKERS = 2
GOAL = 1.7
BENCHMARKS = Path(__file__).resolve().parents[1]
EXPERIMENT = BENCHMARKS / "quick-k.toml"


def _compare():
    """``compare_records.compare`` from the source tree (None when it is not there)."""
    path = BENCHMARKS / "compare_records.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("compare_records", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compare


def run(report: Report, quick: bool) -> None:
    from wsbench import plugins
    from wsbench.experiments.experiment import load_experiment
    from wsbench.experiments.runner import run_experiment

    exp = load_experiment(EXPERIMENT)
    exp = replace(exp, threads=1, seeds=exp.seeds[:2] if quick else exp.seeds)
    names = ["local", "process"] + (["dask"] if importlib.util.find_spec("distributed") else [])
    n = len(exp.trials())
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wsbench-bench-executors-") as tmp:
        for name in names:
            workers = None if name == "local" else WORKERS
            executor = plugins.create("executor", name, workers=workers)
            t0 = time.perf_counter()
            summary = run_experiment(replace(exp, executor=name, workers=workers),
                                     Path(tmp) / name, progress=False, log=lambda m: None,
                                     executor=executor)
            walls[name] = time.perf_counter() - t0
            report.add(SECTION, f"{name}{'' if workers is None else f' ({workers} workers)'}: "
                       f"wall time, {n} trials", walls[name], "s",
                       f"{summary.seconds:.1f} s after start-up; {summary.ran} ran, "
                       f"{len(summary.failed)} failed")
        compare = _compare()
        for name in names[1:]:
            speedup = walls["local"] / walls[name]
            report.add(SECTION, f"{name}: speed-up over local", speedup, "x")
            if compare is not None:
                same, differ, alone = compare(Path(tmp) / "local", Path(tmp) / name)
                report.add(SECTION, f"{name}: records identical to local's",
                           "yes" if not differ and not alone else "NO", "",
                           f"{len(same)} identical, {len(differ)} differ, {len(alone)} in one only")
            report.goal(SECTION, f"{name} with {WORKERS} workers (1 torch thread per trial) "
                                 f">= {GOAL}x faster than local", f"{speedup:.2f}x",
                        speedup >= GOAL)
    if "dask" not in names:
        report.goal(SECTION, "dask measured", "not installed (extra 'cluster')", None)
