"""``wsbench compress``: the MO-UB pipeline on one task, printed as the paper's Table I."""

from __future__ import annotations

import argparse
from pathlib import Path

from wsbench import settings, validate
from wsbench.validate import arg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress", help="search, merge and Huffman-code one model (the paper's pipeline)",
        description="Run MO-UB on a task: search the number of bins K, re-score the front on the "
                    "test split, merge neighbouring bins, Huffman-code the indices, save one "
                    "compressed file per chosen solution and print a Table-I-shaped summary.")
    p.add_argument("--task", default="digits-cnn", help="task plugin (default: digits-cnn)")
    p.add_argument("--optimizer", default="nsga2", help="optimizer plugin (default: nsga2)")
    p.add_argument("--quantizer", default="uniform", help="quantizer plugin (default: uniform)")
    p.add_argument("--merge", default="neighbor", help="merge plugin (default: neighbor)")
    p.add_argument("--space", default="k", help="search-space plugin (default: k)")
    p.add_argument("--seed", type=arg(validate.seed, "--seed", int), default=0,
                   help="optimizer seed (default: 0)")
    settings.add_arguments(p, settings.COMPRESS, ("budget", "max_requested"))
    p.add_argument("--k-min", type=int, default=2, help="lower bound of K (default: 2)")
    p.add_argument("--k-max", type=int, default=1024, help="upper bound of K (default: 1024)")
    settings.add_arguments(p, settings.COMPRESS, ("metric", "max_drop"))
    p.add_argument("--tolerance", type=arg(validate.tolerance, "--tolerance"), default=None,
                   help="merge tolerance: allowed validation drop (default: the merge's own, 0)")
    settings.add_arguments(p, settings.COMPRESS, skip=("budget", "max_requested", "metric", "max_drop"))
    p.add_argument("--set", action="append", metavar="KIND.KEY=VALUE", dest="options",
                   help="plugin option, e.g. optimizer.pop_size=50 (repeatable)")
    p.add_argument("--out", type=Path, default=Path("results"), help="results root (default: results)")
    p.add_argument("--name", type=arg(validate.plain_name, "--name", str), default=None,
                   help="name of the run's folder under --out (default: the configuration, the "
                        "time and a random suffix); an existing one is never overwritten")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wsbench.commands import parse_options
    from wsbench.errors import ConfigError
    from wsbench.experiments.compress_run import CompressConfig, check, run_compress
    from wsbench.report.run_folder import prepare_root, write_outputs
    from wsbench.report.run_table import format_table, table_rows

    opts = parse_options(args.options)
    unknown = set(opts) - {"task", "optimizer", "quantizer", "merge", "space"}
    if unknown:
        raise ConfigError(f"--set kinds must be task, optimizer, quantizer, merge or space, "
                          f"got {', '.join(sorted(unknown))}")
    from wsbench.commands.overrides import check_options

    for kind, options in opts.items():
        check_options(kind, getattr(args, kind), options)
    space_opts = opts.get("space", {})
    if args.space == "k":
        space_opts = {"k_min": args.k_min, "k_max": args.k_max, **space_opts}
    merge_opts = opts.get("merge", {})
    if args.tolerance is not None:
        merge_opts = {"tolerance": args.tolerance, **merge_opts}
    cfg = CompressConfig(
        task=args.task, optimizer=args.optimizer, quantizer=args.quantizer, merge=args.merge,
        space=args.space, seed=args.seed, **settings.from_args(args, settings.COMPRESS),
        task_options=opts.get("task", {}),
        optimizer_options=opts.get("optimizer", {}), quantizer_options=opts.get("quantizer", {}), merge_options=merge_opts,
        space_options=space_opts)
    validate.device_available(args.device, "--device")
    check(cfg)  # every name and option, before a line is printed or the task loads
    prepare_root(args.out, args.name, "--out")  # before the search, not after it
    from wsbench.experiments.plain_progress import interactive

    progress = not args.no_progress and interactive()  # bars only on a terminal, not in a log
    if not args.no_progress and not progress:
        print(f"compress: {cfg.task} / {cfg.optimizer} / merge {cfg.merge}: searching up to "
              f"{cfg.budget} unique evaluations (no progress bars: the output is not a terminal)",
              flush=True)
    result = run_compress(cfg, progress=progress)
    out = write_outputs(result, args.out, args.name)
    print(format_table(table_rows(result.record, cfg.merge), cfg.metric))
    estimates = f" (+ {result.record.charged:.1f} in margin estimates)" if result.record.charged else ""
    print(f"\n{result.requested} evaluations requested, {result.unique} unique{estimates}, "
          f"{result.merge_evaluations} in merging; {len(result.merged)} solutions on the front; "
          f"{result.seconds['total']:.1f} s")
    why = stop_reason(result.unique, result.requested, cfg.budget, cfg.max_requested)
    if why:
        print(why)
    if result.bits.get("baseline"):
        sols = ", ".join(f"{b['test']:.3f}" for b in result.bits["solutions"])
        print(f"cross-entropy on test, bits per prediction (per character for a language model): "
              f"baseline {result.bits['baseline']['test']:.3f}; solutions {sols}")
    print(f"results: {out}")
    return 0


def stop_reason(unique: int, requested: int, budget: int, max_requested: int | None) -> str | None:
    """Why a search ended before its budget of unique evaluations, where it did (a progress bar
    that stops at 512/1000 otherwise says nothing)."""
    if unique >= budget:
        return None
    if max_requested is not None and requested >= max_requested:
        repeats = (f", {requested - unique} of them already evaluated (the optimizer converged)"
                   if requested > 1.5 * unique else "")
        return (f"the search stopped at {unique} of {budget} unique evaluations: it had asked "
                f"for {requested} decisions (max_requested {max_requested}){repeats}; raise "
                f"--max-requested to go on")
    return (f"the search stopped at {unique} of {budget} unique evaluations: the optimizer "
            f"had nothing new to ask (a small space, or converged)")
