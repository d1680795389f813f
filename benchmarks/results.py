"""Regenerate every experiment table that RESULTS.md quotes, from the experiment files.

    python benchmarks/results.py                 # run what is unfinished, rewrite RESULTS.md
    python benchmarks/results.py --workers 2     # the same, two trials at a time
    python benchmarks/results.py --only digits   # the digits sections only (minutes on 2 cores)
    python benchmarks/results.py --only problems # issue 28's problems (hours on 2 cores)
    python benchmarks/results.py --only suite    # issue 33: every problem (~26 h on 2 cores)
    python benchmarks/results.py --no-run        # tables from the results folders as they are
    python benchmarks/results.py --check         # exit 1 if RESULTS.md differs from the results,
                                                 # or a record behind it was made by other code

Each table of RESULTS.md that comes from an experiment sits between
``<!-- wsbench:table NAME -->`` and ``<!-- /wsbench:table -->``. This script runs the
experiment behind it (``wsbench run``: finished trials are kept), builds the report's table,
drops the columns that depend on the machine (timings) and writes it into the block with the
command, the weights fingerprint and the machine the trials ran on. ``--check`` compares only
the tables, not that provenance line, so a rerun on another machine can be checked against
the committed file. A table is only as current as its records: running an experiment reruns
every trial whose record was made by other code (``wsbench.experiments.code_identity``), and
``--check`` fails on a block whose folder still holds such a record.

Records live in ``results/``, which git ignores; ``benchmarks/records/`` keeps them in the
repository (``benchmarks/records.py``). Before it runs or checks an experiment this script
restores what its folder lacks from that pack, and after writing a table it packs the records
behind it, so ``--check`` on a clean clone compares against the committed records.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the scripts beside this one (records, suite_goals, results_blocks)
    sys.path.insert(0, HERE)
from results_blocks import BLOCKS, DROP, KEY_LIBRARIES, Block  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- wsbench:table {name} -->"
END = "<!-- /wsbench:table -->"
PATTERN = re.compile(r"<!-- wsbench:table (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- /wsbench:table -->",
                     re.S)


def selected(only: list[str] | None) -> list[Block]:
    if not only:
        return list(BLOCKS)
    return [b for b in BLOCKS if b.name in only or b.group in only
            or b.experiment.removesuffix(".toml") in only]


def run_experiments(blocks: list[Block], progress: bool, workers: int | None = None) -> None:
    """Run each block's experiment (finished trials kept); with ``workers``, in a pool of that
    many local processes, as ``wsbench run --executor process --workers N`` would."""
    from wsbench import plugins
    from wsbench.experiments.experiment import load_experiment
    from wsbench.experiments.runner import run_experiment

    exact_only = {b.experiment for b in blocks if b.exact_only}
    for name in dict.fromkeys(b.experiment for b in blocks):
        exp = load_experiment(ROOT / "benchmarks" / name)
        restore(exp.name)
        pool = plugins.create("executor", "process", workers=workers) if workers else None
        summary = run_experiment(exp, ROOT / "results" / exp.name, progress=progress,
                                 exact_only=name in exact_only, executor=pool)
        print(f"{name}: {summary.ran} trial(s) run, {summary.already_done} already done, "
              f"{len(summary.failed)} failed", file=sys.stderr)
        if summary.failed:
            raise SystemExit(f"results.py: {name} has failed trials: {summary.failed[0]}")


def load_folders(blocks: list[Block]) -> tuple[dict, dict[str, str]]:
    """The loaded results of each block's experiment; and the experiments whose folder is not
    here (by block name), which a check on another machine cannot compare."""
    from wsbench.experiments.experiment import load_experiment
    from wsbench.report.data import load_results

    loaded, absent = {}, {}
    for b in blocks:
        if b.experiment in loaded:
            continue
        folder = restore(load_experiment(ROOT / "benchmarks" / b.experiment).name)
        if (folder / "experiment.json").exists():
            loaded[b.experiment] = load_results(folder)
        else:
            absent[b.name] = folder.name
    return loaded, absent


def restore(name: str) -> Path:
    """The experiment's results folder, with what it lacks restored from its committed pack."""
    import records

    return records.restore(name, ROOT)


def render(block: Block, loaded: dict) -> str:
    """The block's table as markdown (no provenance), from the loaded results of its folder."""
    from wsbench.report.build import build_document
    from wsbench.report.markdown import table_md

    res = loaded[block.experiment]
    if block.script:  # a judgement over the report's figures, not a report table
        import importlib

        return importlib.import_module(block.script).table(res)
    doc = build_document(res, res.path, {}, None)
    labels = [block.table.format(task=t) for t in res.tasks]
    tables = [t for s in doc.sections for t in (*s.tables, *s.details) if t.label in labels]
    if not tables:
        raise SystemExit(f"results.py: no table {block.table} in results/{res.exp.name}")
    return "\n\n".join(table_md(_columns(t, block)) for t in tables)


def _columns(table, block: Block):
    from dataclasses import replace

    keep = [i for i, c in enumerate(table.columns)
            if (c in block.keep if block.keep else c not in DROP)]
    if block.keep and len(keep) != len(block.keep):
        missing = set(block.keep) - {table.columns[i] for i in keep}
        raise SystemExit(f"results.py: table {table.label} has no column(s) {sorted(missing)}")
    align = "".join(table.align[i] for i in keep) if table.align else ""
    dropped = [c for i, c in enumerate(table.columns) if i not in keep]
    caption = table.caption + (" The oracle (test-selected) columns are left out here."
                               if any(c.startswith("oracle") for c in dropped) else "")
    if "s / decision" in dropped:  # a machine's clock: `wsbench report` shows it, this file cannot
        caption = re.sub(r" s / decision: [^.]*\.", "", caption) + (
            " Seconds per decision, which measure the machine, are in `wsbench report`.")
    return replace(table, caption=caption, columns=[table.columns[i] for i in keep],
                   rows=[[r[i] for i in keep] for r in table.rows], align=align)


def provenance(block: Block, loaded: dict) -> str:
    res = loaded[block.experiment]
    # the trials' records, or (a folder of landscapes alone) its exact fronts'
    records = [(t.task, t.record) for t in res.trials] or [
        (task, e) for task in res.tasks for e in res.exact_for(task) if e.ok]
    models = sorted({f"{task} {rec.model or '?'}" for task, rec in records})
    runs = res.store.runs()
    ran = [r for r in runs if (r.get("trials") or {}).get("ran")]  # not a rerun that found all done
    machine = (ran or runs or [{}])[-1].get("machine", {})
    cpus = machines_of([rec for _, rec in records], machine)
    # the trials' own thread counts: a process pool's workers set theirs, the runner keeps its own
    threads = sorted({str(rec.provenance.get("machine", {}).get("torch_threads"))
                      for _, rec in records} - {"None"}) or [str(machine.get("torch_threads", "?"))]
    # the libraries the trials' code imports, as their records name them (numpy 1.x and 2.x,
    # say, draw other numbers): "numpy 1.26.4", or every version found when the records differ
    libs: dict[str, set[str]] = {}
    for _, rec in records:
        for name, version in ((rec.code or {}).get("libraries") or {}).items():
            libs.setdefault(name, set()).add(version)
    versions = ", ".join(f"{n} {'/'.join(sorted(v))}" for n, v in sorted(libs.items())
                         if n in KEY_LIBRARIES) or "not recorded"
    return (f"<sub>Regenerate: `python benchmarks/results.py --only {block.name}` "
            f"(experiment `benchmarks/{block.experiment}`, results `results/{res.exp.name}`). "
            f"Weights: {', '.join(models)}. Trials run on: {cpus}, "
            f"{machine.get('cpu_count', '?')} CPUs, torch threads {' and '.join(threads)}; "
            f"{versions}.</sub>")


def machines_of(records: list, fallback: dict) -> str:
    """The CPUs the records name (model, flags and any numeric settings such as a held-down
    kernel level), each with its count of records when there is more than one; a table mixed
    from two machines says so instead of naming only the last run's."""

    def describe(m: dict) -> str:
        env = ", ".join(f"{k}={v}" for k, v in sorted((m.get("numeric_env") or {}).items()))
        flags = " ".join(m.get("cpu_flags", [])) or "flags not recorded"
        return f"{m.get('cpu_model', '?')} ({flags})" + (f" with {env}" if env else "")

    from collections import Counter

    machines = ((getattr(rec, "provenance", None) or {}).get("machine") for rec in records)
    counts = Counter(describe(m) for m in machines if m)
    if len(counts) <= 1:
        return next(iter(counts), describe(fallback))
    return ", ".join(f"{d} ({n} records)" for d, n in counts.most_common())


def rewrite(text: str, tables: dict[str, str], lines: dict[str, str]) -> tuple[str, list[str]]:
    """RESULTS.md with each named block replaced; and the names of blocks whose table changed."""
    changed = []

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in tables:
            return m.group(0)
        if table_of(m.group("body")) != tables[name]:
            changed.append(name)
        return f"{BEGIN.format(name=name)}\n{tables[name]}\n\n{lines[name]}\n{END}"

    return PATTERN.sub(sub, text), changed


def table_of(body: str) -> str:
    """A block's table text without its provenance line."""
    return "\n".join(line for line in body.strip().splitlines()
                     if not line.startswith("<sub>")).strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="blocks, experiments or groups (digits, cifar) to regenerate")
    ap.add_argument("--no-run", action="store_true", help="do not run experiments first")
    ap.add_argument("--check", action="store_true",
                    help="write nothing but the records restored from their packs; "
                         "exit 1 if a table of RESULTS.md differs")
    ap.add_argument("--results-md", type=Path, default=ROOT / "RESULTS.md")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--workers", type=int, help="run the trials in a pool of this many local "
                                                "processes (default: this process, one at a time)")
    args = ap.parse_args(argv)
    blocks = selected(args.only)
    if not blocks:
        ap.error(f"nothing selected by --only {' '.join(args.only)}")
    if not args.no_run and not args.check:
        run_experiments(blocks, progress=not args.no_progress, workers=args.workers)
    loaded, absent = load_folders(blocks)
    for name in absent:
        print(f"skipped: {name} (no results/{absent[name]} here: run its experiment first)")
    blocks = [b for b in blocks if b.experiment in loaded]
    if not blocks:
        print("results.py: no results folder to build tables from", file=sys.stderr)
        return 1
    tables = {b.name: render(b, loaded) for b in blocks}
    lines = {b.name: provenance(b, loaded) for b in blocks}
    stale = {b.name: loaded[b.experiment].stale for b in blocks if loaded[b.experiment].stale}
    text = args.results_md.read_text()
    missing = [b.name for b in blocks if BEGIN.format(name=b.name) not in text]
    new, changed = rewrite(text, tables, lines)
    if args.check:
        from wsbench.experiments.code_identity import summarise

        for name in changed:
            print(f"differs: {name}")
        for name in missing:
            print(f"no block in {args.results_md.name}: {name}")
        for name, why in stale.items():
            print(f"stale: {name}: {len(why)} record(s) made by other code ({summarise(why.values())}); "
                  f"regenerate with `python benchmarks/results.py --only {name}`")
        bad = set(changed) | set(missing) | set(stale)
        print(f"{len(blocks) - len(bad)} of {len(blocks)} tables reproduce from records of this code"
              + (f" ({len(absent)} not checked: no results here)" if absent else ""))
        return 1 if bad else 0
    from wsbench.experiments.code_identity import summarise

    for name, why in stale.items():  # only with --no-run: a run reruns them
        print(f"warning: {name}: {len(why)} record(s) made by other code ({summarise(why.values())})",
              file=sys.stderr)
    from wsbench.files.cache import atomic_write_bytes

    atomic_write_bytes(args.results_md, new.encode())
    import records

    for res in loaded.values():  # the records behind what was written, kept with it
        try:
            out, written = records.pack(res.path, records.pack_path(res.path.name, ROOT))
            print(f"{'packed' if written else 'unchanged:'} {res.path.name} -> {out}")
        except records.PackError as exc:
            print(f"not packed: {exc}", file=sys.stderr)
    for name in missing:
        print(f"no block in {args.results_md.name} for {name}; its table:\n{tables[name]}\n")
    print(f"wrote {len(tables) - len(missing)} table(s) into {args.results_md}"
          + (f"; changed: {', '.join(changed)}" if changed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
