"""Reports of an experiment's results: Markdown, self-contained HTML and LaTeX tables.

The writers are ``reporter`` plugins (registered through the ``wsbench`` entry points like any
third-party reporter); each renders the same :class:`~wsbench.report.model.Document`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from wsbench.hookspecs import hookimpl

DEFAULT_FORMATS = ("markdown", "html", "latex")


def write_report(results: str | Path, out: str | Path | None = None,
                 formats: Sequence[str] = DEFAULT_FORMATS, figures: bool = True) -> list[Path]:
    """Load ``results``, compute indicators and statistics, draw figures, run the reporters.

    Also writes ``indicators.csv`` (one row per trial), ``stats.csv`` (per task, configuration
    and metric: n, mean, std, median, quartiles) and ``pairwise.csv`` (rank-sum p, Holm p and
    A12 of every pair per task and metric) and, for each space without an exact front, its
    best-known front (``best-known/*.csv``). Returns the files written.
    """
    from wsbench import plugins
    from wsbench.files.cache import atomic_write_bytes
    from wsbench.report.best_known import write_best_known
    from wsbench.report.build import build_document
    from wsbench.report.data import load_results

    reporters = [plugins.create("reporter", name) for name in formats]
    res = load_results(results)
    out = Path(out) if out is not None else Path(results)
    out.mkdir(parents=True, exist_ok=True)
    figs = {}
    if figures and res.trials:
        from wsbench.report.plots import task_figures

        from wsbench.report.across import ACROSS, ecdf_figure

        figs = {task: task_figures(res, task, out / "figures") for task in res.tasks if res.by_task(task)}
        if (across := ecdf_figure(res, out / "figures")) is not None:
            figs[ACROSS] = [across]
    doc = build_document(res, out, figs, res.store.read("run.json"))
    written = []
    for name, text in (("indicators.csv", indicators_csv(res)), ("stats.csv", stats_csv(res)),
                       ("pairwise.csv", pairwise_csv(res))):
        atomic_write_bytes(out / name, text.encode())
        written.append(out / name)
    written += write_best_known(res, out)
    written += [r.write(doc, out) for r in reporters]
    return written


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def indicators_csv(res) -> str:
    rows = [{"task": t.task, "configuration": t.config, "seed": t.trial.seed, "trial": t.trial.id,
             **t.indicators} for t in res.trials]
    return _csv(rows) if rows else ""


def stats_csv(res) -> str:
    from wsbench.experiments import stats

    rows = []
    for task in res.tasks:
        trials = res.by_task(task)
        keys = list(dict.fromkeys(k for t in trials for k in t.indicators))
        for c in res.configs:
            mine = [t for t in trials if t.config == c]
            for k in keys:
                s = stats.summarize([float(t.indicators.get(k, float("nan"))) for t in mine])
                rows.append({"task": task, "configuration": c, "metric": k, "n": s.n, "mean": s.mean,
                             "std": s.std, "median": s.median, "q1": s.q1, "q3": s.q3, "iqr": s.iqr})
    return _csv(rows) if rows else ""


def pairwise_csv(res) -> str:
    """Every pair of configurations per task and metric: rank-sum p, Holm p, A12."""
    from wsbench.experiments import stats
    from wsbench.report.columns import compression_metrics, search_metrics, values

    rows = []
    for task in res.tasks:
        trials = res.by_task(task)
        configs = [c for c in res.configs if any(t.config == c for t in trials)]
        for m in search_metrics(res) + compression_metrics(res):
            for c in stats.pairwise({c: values(trials, c, m.key) for c in configs}):
                rows.append({"task": task, "metric": m.key, "a": c.a, "b": c.b, "p": c.p,
                             "p_holm": c.p_holm, "a12": c.a12, "effect": stats.a12_magnitude(c.a12),
                             "better": c.better(bool(m.higher)) or ""})
    return _csv(rows) if rows else ""


@hookimpl
def wsbench_register_reporters(register) -> None:
    from wsbench.report.html_page import HtmlReporter
    from wsbench.report.latex import LatexReporter
    from wsbench.report.markdown import MarkdownReporter

    register("markdown", MarkdownReporter, "report.md: tables (median, IQR, tests) and linked PNG figures.")
    register("html", HtmlReporter, "report.html: one self-contained page, figures embedded as PNG.")
    register("latex", LatexReporter, "tables.tex: booktabs tables for a paper.")
