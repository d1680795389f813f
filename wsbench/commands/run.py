"""``wsbench run``: run an experiment file (tasks x spaces x quantizers x optimizers x merges x seeds)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

RUN_FLAGS = ("executor", "scheduler", "workers")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a benchmark experiment from a TOML file",
        description="Run every trial of an experiment file and write one record per trial to "
                    "results/<experiment name>/trials/. Finished trials are found by the hash of "
                    "their config and not run again, so an interrupted run can simply be restarted; "
                    "a finished trial whose record was made by other code (its plugins, the "
                    "wsbench modules they import, or those libraries' versions changed) is run "
                    "again. See benchmarks/quick.toml for the format.")
    p.add_argument("config", type=Path, help="experiment file (TOML)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default: results/<experiment name>)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the file and list the trials and whether they are done")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--keep-stale", action="store_true",
                   help="keep finished records made by other code instead of running them again "
                        "(the report marks their rows)")
    p.add_argument("--exact-only", action="store_true",
                   help="compute only the exact fronts (every space's whole landscape, where "
                        "[exact] allows it) and run no trial: a problem's reference, tabulated once")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="run only the trials whose id contains a match of GLOB (as --dry-run "
                        "lists them: --only resnet56-idelbayev__mo-ub, --only 'resnet*__nnc*'), "
                        "e.g. to start a long trial first while a second run takes the rest; "
                        "repeatable")
    p.add_argument("--seeds", metavar="SEEDS",
                   help="override the file's seeds: a count (3), a range (0-2) or a list (1,4,7)")
    p.add_argument("--budget", type=int, metavar="N",
                   help="override the file's budget (unique evaluations per trial)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="override any value of the file, validated like it: a setting "
                        "(fidelity=0.1), a table's key (indicator.d_max=256) or a plugin option, "
                        "on every plugin that takes it (optimizer.pop_size=10) or on one "
                        "(optimizer.nsga2.pop_size=10); repeatable")
    from wsbench import settings

    # the [run] table's keys; a flag given overrides the file
    settings.add_arguments(p, settings.RUN, names=RUN_FLAGS)
    p.set_defaults(func=run, **dict.fromkeys(RUN_FLAGS))


def load(args: argparse.Namespace):
    """The experiment file with the command line's overrides and ``[run]`` flags applied."""
    from wsbench.experiments.experiment import load_experiment

    exp = load_experiment(args.config)
    if args.seeds is not None or args.budget is not None or args.sets:
        import tomllib

        from wsbench.commands import overrides
        from wsbench.experiments.experiment_toml import parse_experiment

        data = overrides.apply(tomllib.loads(exp.source), args.seeds, args.budget, args.sets)
        exp = parse_experiment(data, source=f"{args.config} (with command-line overrides)",
                               text=overrides.header(args.seeds, args.budget, args.sets) + exp.source)
    return replace(exp, **{k: getattr(args, k) for k in RUN_FLAGS if getattr(args, k) is not None})


def dry_run(exp, out: Path, only: list[str]) -> int:
    """List the trials and whether each is done, stale or to do; run nothing."""
    from wsbench.experiments.code_identity import stale_records
    from wsbench.experiments.runner import selected
    from wsbench.experiments.store import ResultsStore

    trials = selected(exp.trials(), only)
    finished = ResultsStore(out).finished() if out.exists() else {}
    stale = stale_records(trials, finished)
    for t in trials:
        state = "stale" if t.key in stale else "done" if t.key in finished else "todo"
        print(f"{state}  {t.id}" + (f"  ({stale[t.key]})" if t.key in stale else ""))
    done = sum(t.key in finished for t in trials)
    print(f"{len(trials)} trials, {done} done"
          + (f" ({len(stale)} of them by other code: run again unless --keep-stale)" if stale else "")
          + f"; results: {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    exp = load(args)
    out = args.out if args.out is not None else Path("results") / exp.name
    if args.dry_run:
        return dry_run(exp, out, args.only)
    from wsbench.experiments.executor import executor_for
    from wsbench.experiments.runner import run_experiment
    from wsbench.experiments.store import ResultsStore, prepare_root
    from wsbench.tasks.checkpoint import require_checkpoint
    from wsbench.validate import device_available

    executor = executor_for(exp)  # its options checked before anything runs
    if not exp.scheduler:  # a cluster's workers have their own devices and files
        device_available(exp.device, f"{args.config}: device")
        for i, task in enumerate(exp.tasks):
            require_checkpoint(task.create(), f"{args.config}: tasks[{i}] ({task.label})")
    prepare_root(out, None)
    summary = run_experiment(exp, out, progress=not args.no_progress, executor=executor,
                             keep_stale=args.keep_stale, exact_only=args.exact_only,
                             only=args.only)
    where = summary.executor
    if args.exact_only:
        print(f"exact fronts only: {summary.evaluations} unique evaluations in "
              f"{summary.seconds:.1f} s; no trial run")
        print(f"results: {out}  (next: wsbench report {out})")
        if summary.no_exact:  # what was asked for is missing: one line, exit 2
            from wsbench.errors import ConfigError

            raise ConfigError(f"{len(summary.no_exact)} exact front(s) missing: "
                              f"{'; '.join(summary.no_exact)}")
        return 0
    print(f"{summary.total} trials: {summary.already_done} already done, {summary.ran} run, "
          f"{len(summary.skipped)} skipped, {len(summary.failed)} failed; "
          f"{summary.evaluations} unique evaluations in {summary.seconds:.1f} s "
          f"(executor {where.get('name')}, {where.get('slots')} at a time)")
    if summary.stale:
        what = "kept (--keep-stale): the report marks them" if summary.kept_stale else "run again"
        print(f"  {len(summary.stale)} finished trial(s) were made by other code, {what}")
    if summary.elsewhere:
        print(f"  {len(summary.elsewhere)} trial(s) run by another process on {out} meanwhile")
    for tid in summary.taken:
        print(f"  taken by another process, not done yet: {tid}")
    for tid, reason in summary.skipped:
        print(f"  skipped {tid}: {reason}")
    for tid, reason in summary.failed:
        print(f"  failed {tid}: {reason} (traceback: {ResultsStore(out).traceback_path(tid)})")
    if summary.other_trials:
        narrowed = [f"{flag} {value}" for flag, value in (("--seeds", args.seeds), ("--budget", args.budget))
                    if value is not None] + [f"--set {kv}" for kv in args.sets]
        if narrowed:  # the overrides left them out, not the file
            print(f"note: {len(summary.other_trials)} finished trial(s) in {out} are outside this run "
                  f"({' '.join(narrowed)}); they are kept, but `wsbench report` follows the run made "
                  f"last and leaves them out until {args.config} runs without these overrides")
        else:
            print(f"note: {len(summary.other_trials)} finished trial(s) in {out} are not in {args.config}; "
                  f"they are kept, but `wsbench report` follows the file run last and leaves them out "
                  f"(list their configurations in the file to report them together)")
    print(f"results: {out}  (next: wsbench report {out})")
    return 1 if summary.failed else 0
