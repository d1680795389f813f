"""From loaded results to a :class:`Document`: summary tables, tests, ranks, figures, notes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsbench.experiments import stats
from wsbench.experiments.indicators import drop_label, layer_column
from wsbench.report.data import (STALE_MARK, Results, TrialResult, screened,
                                 screened_sentence)
from wsbench.report.best_known import reached_share, reference_name
from wsbench.report.methods import methods_across, methods_table
from wsbench.report.model import Cell, Document, Figure, Section, Table
from wsbench.report.overview import method_paragraphs, tasks_table
from wsbench.report.paired import coding_table, merge_table
from wsbench.report.paper_table import paper_table


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    higher: bool | None  # None: informative only (no best, no test)
    fmt: str


def search_metrics(res: Results) -> list[Metric]:
    tag = f" [{screened(res)}]" if screened(res) else ""
    out = [Metric("hv", f"HV{tag}", True, ".4f")]
    if any(res.exact_for(t) and res.exact_for(t)[0].ok for t in res.tasks):
        ref = reference_name(res)
        out += [Metric("hv_ratio", f"HV / {ref}{tag}", True, ".4f"),
                Metric("igd_plus", f"IGD+{tag}", False, ".4f"),
                Metric("evals_to_99", f"evals to 99% {ref} HV{tag}", False, ".0f"),
                Metric("evals_to_99.5", f"evals to 99.5% {ref} HV{tag}", False, ".0f"),
                Metric("evals_to_100", f"evals to {ref} HV{tag}", False, ".0f")]
    return out + [Metric("seconds_search", "search time [s]", False, ".2f")]


def compression_metrics(res: Results) -> list[Metric]:
    out = []
    for d in res.exp.drops:
        t = drop_label(d)
        out += [Metric(f"cr_paper@{t}", f"CR @{t}pt", True, ".2f"),
                Metric(f"cr_file@{t}", f"CR file @{t}pt", True, ".2f"),
                Metric(f"test@{t}", f"test {res.exp.metric} @{t}pt", True, ".4f")]
    for d in res.exp.drops:
        t = drop_label(d)
        out += [Metric(f"cr_paper@test{t}", f"oracle CR @test-{t}pt", True, ".2f"),
                Metric(f"cr_file@test{t}", f"oracle CR file @test-{t}pt", True, ".2f")]
    for d in res.exp.drops:  # records written before the per-tensor coding lack it
        key = layer_column(drop_label(d))
        if any(key in t.indicators for t in res.trials):
            out.append(Metric(key, f"oracle CR file per-tensor @test-{drop_label(d)}pt", True, ".2f"))
    return out


def values(trials: list[TrialResult], config: str, key: str) -> list[float]:
    return [float(t.indicators.get(key, float("nan"))) for t in trials if t.config == config]


def _fmt(v: float, fmt: str) -> str:
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "never" if v > 0 else "-inf"
    return format(v, fmt)


def _cell_text(s: stats.Summary, fmt: str) -> str:
    if s.n == 0:
        return "-"
    iqr = "" if math.isnan(s.iqr) or math.isinf(s.iqr) else f" ({_fmt(s.iqr, fmt)})"
    return _fmt(s.median, fmt) + iqr


def metric_column(trials: list[TrialResult], configs: list[str], m: Metric, alpha: float = 0.05
                  ) -> tuple[list[Cell], list[stats.Comparison]]:
    """One column: median (IQR) per config, best in bold, dagger when worse than the best."""
    samples = {c: values(trials, c, m.key) for c in configs}
    summ = {c: stats.summarize(v) for c, v in samples.items()}
    cells = {c: Cell(_cell_text(summ[c], m.fmt)) for c in configs}
    comps = stats.pairwise(samples) if m.higher is not None else []
    valid = [c for c in configs if summ[c].n and not math.isnan(summ[c].median)]
    if m.higher is not None and valid:
        sign = -1 if m.higher else 1
        best = min(valid, key=lambda c: (sign * summ[c].median,
                                          sign * summ[c].mean if math.isfinite(summ[c].mean) else math.inf))
        for c in valid:
            if summ[c].median == summ[best].median and math.isfinite(summ[best].median):
                cells[c].bold = True
        for comp in comps:
            if best in (comp.a, comp.b) and comp.better(m.higher, alpha) == best:
                other = comp.b if comp.a == best else comp.a
                cells[other].mark = "dagger"
    return [cells[c] for c in configs], comps


def _seed_blocks(trials: list[TrialResult], key: str) -> list[dict[str, float]]:
    blocks: dict[tuple, dict[str, float]] = {}
    for t in trials:
        blocks.setdefault((t.task, t.trial.seed), {})[t.config] = float(t.indicators.get(key, np.nan))
    return list(blocks.values())


def _charged_sentence(trials: list[TrialResult]) -> str:
    if not any(t.indicators.get("charged", 0) > 0 for t in trials):
        return ""
    return (", plus margin estimates at their cost in evaluations (unique + estimates / "
            "requested, medians)")


def task_tables(res: Results, task: str) -> tuple[list[Table], list[Table], list[str]]:
    """A task's tables in reading order, the supporting ones (shown collapsed), and notes."""
    trials = res.by_task(task)
    configs = [c for c in res.configs if any(t.config == c for t in trials)]
    search, comps = search_table(res, task, trials, configs)
    compression, oracle = compression_tables(res, task, trials, configs)
    pairwise = pairwise_table(task, comps)
    tables = [search, compression] + ([pairwise] if pairwise else [])
    return tables, [oracle] if oracle else [], []


def search_table(res: Results, task: str, trials: list[TrialResult], configs: list[str]
                 ) -> tuple[Table, list]:
    """The optimizer comparison (the report's answer) and the pairwise tests on HV."""
    cols, comps = [], []
    metrics = search_metrics(res)
    for m in metrics:
        col, c = metric_column(trials, configs, m)
        cols.append(col)
        comps = c if m.key == "hv" else comps
    header = ["configuration"] + [m.title for m in metrics]
    reach = "evals_to_100" in {m.key for m in metrics}
    if reach:
        from wsbench.report.anytime import reference_hv

        share, hv_ref = reached_share(res, task), reference_hv(res, task)[0]
        header.append(f"reached {'' if share == 1 else f'{share:.0%} of '}{reference_name(res, task)}")
    header += ["unique / requested", "rank (HV)"]
    ranks, friedman_p = stats.average_ranks(_seed_blocks(trials, "hv"), higher_is_better=True)
    rows = []
    for i, c in enumerate(configs):
        row = [Cell(c)] + [col[i] for col in cols]
        if reach:
            row.append(_reached_cell([t for t in trials if t.config == c], share, hv_ref))
        u = stats.summarize(values(trials, c, "unique")).median
        r = stats.summarize(values(trials, c, "requested")).median
        e = stats.summarize(values(trials, c, "charged")).median
        spent = f"{_fmt(u, '.0f')} + {_fmt(e, '.1f')}" if e > 0 else _fmt(u, '.0f')
        rows.append(row + [Cell(f"{spent} / {_fmt(r, '.0f')}"),
                           Cell(f"{ranks[c]:.2f}" if c in ranks else "-")])
    return Table(f"search-{task}", f"{task}: search quality over {len(res.exp.seeds)} seeds, median "
                 f"(IQR). Bold: best median; dagger: worse than the best ({stats.TEST_NAME}, "
                 f"p < 0.05). HV of the archive's non-dominated set with the fixed reference of "
                 f"this task; evaluations are unique ones{_charged_sentence(trials)}; rank: mean "
                 f"rank of HV per seed (1 = best)." + _friedman_sentence(ranks, friedman_p)
                 + screened_sentence(res), header, rows), comps


def compression_tables(res: Results, task: str, trials: list[TrialResult], configs: list[str]
                       ) -> tuple[Table, Table | None]:
    """Compression after merge + Huffman, selected on validation; and the test-selected
    (oracle) bounds apart, since they are never a claim."""
    cm = compression_metrics(res)
    parts = []
    for oracle in (False, True):
        ms = [m for m in cm if m.title.startswith("oracle") == oracle]
        cols = [metric_column(trials, configs, m)[0] for m in ms]
        parts.append((ms, [[Cell(c)] + [col[i] for col in cols] for i, c in enumerate(configs)]))
    (ms, rows), (oms, orows) = parts
    metric = res.exp.metric
    main = Table(f"compression-{task}", f"{task}: best paper CR (32 / mean Huffman bits) and "
                 f"whole-file CR after merging, among solutions whose validation {metric} is at "
                 f"most 0.5 or 1 point below the baseline, with their test {metric}; median (IQR) "
                 f"over seeds, bold and dagger as above.", ["configuration"] + [m.title for m in ms],
                 rows)
    oracle = Table(f"oracle-{task}", f"{task}: oracle compression (a bound for comparison, never "
                   f"a claim). Oracle CR @test-x: the best CR among solutions chosen by their test "
                   f"{metric} (at most x points below the baseline's): it selects on test; median "
                   f"(IQR) over seeds.", ["configuration"] + [m.title for m in oms], orows)
    return main, oracle if oms else None


def pairwise_table(task: str, comps: list) -> Table | None:
    rows = [[Cell(f"{c.a} vs {c.b}"), Cell(f"{c.p:.3g}"), Cell(f"{c.p_holm:.3g}"),
             Cell(f"{c.a12:.2f}"), Cell(stats.a12_magnitude(c.a12)),
             Cell(c.better(True) or "-")] for c in comps]
    if not rows:
        return None
    return Table(f"pairwise-hv-{task}", f"{task}: pairwise {stats.TEST_NAME} on final HV; "
                 f"A12 = P(HV_a > HV_b) + P(=)/2.",
                 ["pair", "p", "p (Holm)", "A12", "effect", "better (p<0.05)"], rows)


def _reached_cell(trials: list[TrialResult], share: float, hv_ref: float) -> Cell:
    """How many seeds reached ``share`` of the reference HV ``hv_ref`` (100%: the exact front's)."""
    if share == 1:
        ev = [v for v in values(trials, trials[0].config, "evals_to_100") if not math.isnan(v)]
        return Cell(f"{sum(math.isfinite(v) for v in ev)}/{len(ev)}" if ev else "-")
    from wsbench.report.anytime import runtimes

    rt = runtimes(trials, hv_ref, np.array([share]))[:, 0]
    return Cell(f"{int(np.isfinite(rt).sum())}/{len(rt)}")


def _friedman_sentence(ranks: dict, p: float | None) -> str:
    """The ranking's significance, in the table it qualifies (a note can be left behind)."""
    return f" Friedman test over seeds on HV ({len(ranks)} configurations): p = {p:.3g}." if p is not None else ""


def fastest_note(res: Results, task: str) -> str | None:
    """Who reached the reference front's HV most reliably, then soonest: the most seeds that
    reached it, then COCO's expected running time (a median would hide the seeds that failed).
    A best-known front counts as reached at 95% of its HV (no single run holds the union)."""
    from wsbench.report.across import ert
    from wsbench.report.anytime import reference_hv, runtimes
    from wsbench.report.best_known import reached_share

    hv_ref, _ = reference_hv(res, task)
    if not res.exact_for(task) or hv_ref <= 0:
        return None
    share = reached_share(res, task)
    found = []
    for c in res.configs:
        mine = [t for t in res.by_task(task) if t.config == c]
        if mine:
            rt = runtimes(mine, hv_ref, np.array([share]))[:, 0]
            reached = int(np.isfinite(rt).sum())
            found.append((-reached, ert(rt, [len(t.curve) for t in mine]), c, reached, len(mine)))
    if not found:
        return None
    _, e, c, reached, n = min(found)
    what = f"{share:.0%} of the {reference_name(res, task)} front's hypervolume"
    if share == 1:
        what = f"the {reference_name(res, task)} front's hypervolume"
    if reached == 0:
        return f"No configuration reached {what} on {task} within {res.exp.budget} unique evaluations."
    return (f"Most reliable, then fastest to {what} on {task}: **{c}** (reached in {reached}/{n} "
            f"seeds; expected running time {e:.0f} unique evaluations: all its seeds' evaluations "
            f"over the seeds that reached it)."
            + (f" ({screened(res)}: on the screened objectives.)" if screened(res) else ""))


def overall_ranks(res: Results) -> Table:
    """Mean ranks over every (task, seed) block, for HV and the CR at the largest drop."""
    keys = [("hv", "HV"), (f"cr_paper@{drop_label(res.exp.drops[-1])}",
                           f"CR @{drop_label(res.exp.drops[-1])}pt")]
    columns, friedman = [], []
    for key, title in keys:
        ranks, p = stats.average_ranks(_seed_blocks(res.trials, key), higher_is_better=True)
        columns.append(ranks)
        friedman.append(f"{title}: p = {p:.3g}" if p is not None else f"{title}: -")
    rows = [[Cell(c)] + [Cell(f"{r[c]:.2f}" if c in r else "-", bold=bool(r) and r.get(c) == min(r.values()))
                         for r in columns] for c in res.configs]
    return Table("ranks", f"Mean rank over all {len(res.tasks)} tasks x {len(res.exp.seeds)} seeds "
                 f"(1 = best; ties share ranks). Friedman test: {'; '.join(friedman)}.",
                 ["configuration"] + [f"rank ({t})" for _, t in keys], rows)


def build_document(res: Results, root: Path, figures: dict[str, list[Figure]], run: dict | None
                   ) -> Document:
    """The answer first (across problems, then each problem's comparison and its figures),
    then compression, the supporting tables (collapsed) and the method."""
    sections = []
    if len({t.task for t in res.trials}) > 1:
        from wsbench.report.across import ACROSS, ert_table, leaderboard

        across = [leaderboard(res), ert_table(res)] + [t for t in (methods_across(res),) if t]
        sections.append(Section("Across problems", [], across, figures.get(ACROSS, [])))
        sections.append(Section("Ranks across tasks", [], [overall_ranks(res)]))
    for task in res.tasks:
        if not res.by_task(task):
            continue
        tables, details, notes = task_tables(res, task)
        methods = methods_table(res, task)
        if methods is not None:  # codecs compared: each in its own coding, after the search
            tables.insert(1, methods)
        details += [t for t in (paper_table(res, task), merge_table(res, task),
                                coding_table(res, task)) if t is not None]
        note = fastest_note(res, task)
        sections.append(Section(f"Results: {task}", ([note] if note else []) + notes, tables,
                                figures.get(task, []), details=details))
    sections.append(Section("Method", method_paragraphs(res, run), [tasks_table(res)]))
    problems = ([f"skipped {t.id}: {r}" for t, r in res.skipped]
                + [f"failed {t.id}: {r} (traceback: tracebacks/{t.id}.txt)" for t, r in res.failed]
                + [f"not run yet: {t.id}" for t in res.missing]
                + ([f"left out, not in this experiment (the folder's experiment is the file run "
                    f"into it last): {len(res.others)} trial file(s): {', '.join(res.others)}"]
                   if res.others else []))
    if res.stale:
        problems.append(f"made by other code than this checkout's (kept with `wsbench run "
                        f"--keep-stale`; their configurations are marked{STALE_MARK}): "
                        + "; ".join(f"{name}: {why}" for name, why in res.stale.items()))
    if problems:
        sections.append(Section("Skipped, failed or missing trials", problems))
    intro = [f"Generated by `wsbench report` from `{res.path}`."]
    return Document(f"wsbench report: {res.exp.name}", intro, sections, root)
