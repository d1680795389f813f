"""``wsbench report``: indicators, statistics, figures and documents from a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the report of an experiment's results (Markdown, HTML, LaTeX)",
        description="Compute indicators (hypervolume with the fixed reference, IGD+ and HV ratio "
                    "against the exact front, compression ratio within a validation drop), "
                    "statistics over seeds (median/IQR, Wilcoxon rank-sum + Holm, A12, ranks) and "
                    "figures, then write report.md, report.html and tables.tex.")
    p.add_argument("results", type=Path, help="results folder written by `wsbench run`")
    p.add_argument("--out", type=Path, default=None, help="where to write (default: the results folder)")
    p.add_argument("--format", dest="formats", default="markdown,html,latex",
                   help="comma-separated reporter plugins (default: markdown,html,latex)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wsbench.commands.outputs import output_folder
    from wsbench.report import write_report

    if args.out is not None:
        output_folder(args.out, "--out")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    for path in write_report(args.results, args.out, formats, figures=not args.no_figures):
        print(path)
    return 0
