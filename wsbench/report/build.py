"""From loaded results to a :class:`Document`: each task's tables, tests, ranks and notes, in
reading order (the per-configuration columns are :mod:`wsbench.report.columns`')."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from wsbench.experiments import stats
from wsbench.experiments.indicators import drop_label
from wsbench.report.data import (STALE_MARK, Results, TrialResult, screened,
                                 screened_sentence)
from wsbench.report.best_known import reached_share, reference_name
from wsbench.report.columns import (Metric, compression_metrics, counted, fmt_value, metric_column,
                                    search_metrics, seed_blocks, values)
from wsbench.report.methods import PLAIN, default_rule, methods_across, methods_table
from wsbench.report.model import Cell, Document, Figure, Section, Table
from wsbench.report.overview import method_paragraphs, tasks_table
from wsbench.report.paired import coding_table, merge_table
from wsbench.report.paper_table import paper_table


def _charged_sentence(trials: list[TrialResult]) -> str:
    if not any(t.indicators.get("charged", 0) > 0 for t in trials):
        return ""
    return (", plus margin estimates at their cost in evaluations (unique + estimates / "
            "requested, medians)")


def task_tables(res: Results, task: str) -> tuple[list[Table], list[Table]]:
    """A task's tables in reading order, and the supporting ones (shown collapsed)."""
    trials = res.by_task(task)
    configs = [c for c in res.configs if any(t.config == c for t in trials)]
    search, comps = search_table(res, task, trials, configs)
    compression, supporting = compression_tables(res, task, trials, configs)
    pairwise = pairwise_table(task, comps)
    tables = [search, compression] + ([pairwise] if pairwise else [])
    return tables, supporting


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
    ranks, friedman_p = stats.average_ranks(seed_blocks(trials, "hv"), higher_is_better=True)
    rows = []
    for i, c in enumerate(configs):
        row = [Cell(c)] + [col[i] for col in cols]
        if reach:
            row.append(_reached_cell([t for t in trials if t.config == c], share, hv_ref))
        u = stats.summarize(values(trials, c, "unique")).median
        r = stats.summarize(values(trials, c, "requested")).median
        e = stats.summarize(values(trials, c, "charged")).median
        spent = f"{fmt_value(u, '.0f')} + {fmt_value(e, '.1f')}" if e > 0 else fmt_value(u, '.0f')
        rows.append(row + [Cell(f"{spent} / {fmt_value(r, '.0f')}"),
                           Cell(f"{ranks[c]:.2f}" if c in ranks else "-")])
    seeds = counted(len(res.exp.seeds), "seed")
    return Table(f"search-{task}", f"{task}: search quality over {seeds}, median (IQR)."
                 f" Bold: best median; dagger: worse than the best ({stats.TEST_NAME}, "
                 f"p < 0.05). HV of the archive's non-dominated set with the fixed reference of "
                 f"this task; evaluations are unique ones{_charged_sentence(trials)}; rank: mean "
                 f"rank of HV per seed (1 = best)." + _friedman_sentence(ranks, friedman_p)
                 + screened_sentence(res), header, rows), comps


def compression_tables(res: Results, task: str, trials: list[TrialResult], configs: list[str]
                       ) -> tuple[Table, list[Table]]:
    """Compression after merge + Huffman, selected on validation (with the one-standard-error
    margin where the records have it); the plain rule and the test-selected (oracle) bounds
    apart, collapsed: the first is the rule a reader would pick by accident, the second never a
    claim."""
    groups: dict[str, list[Metric]] = {"se": [], "plain": [], "oracle": []}
    for m in compression_metrics(res):
        groups[m.kind].append(m)

    def rows(ms: list[Metric]) -> list[list[Cell]]:
        cols = [metric_column(trials, configs, m)[0] for m in ms]
        return [[Cell(c)] + [col[i] for col in cols] for i, c in enumerate(configs)]

    metric = res.exp.metric
    within = (f"whole-file CR after merging, among solutions whose validation {metric} is at most "
              f"0.5 or 1 point below the baseline")
    within_se = (f"whole-file CR after merging, among solutions whose validation {metric} drop "
                 f"plus its standard error is at most 0.5 or 1 point (1 SE: a paired bootstrap "
                 f"over the validation items, kept in each record; a member within the drop only "
                 f"by luck of the split is passed over)")
    plain = Table(f"compression-plain-{task}" if groups["se"] else f"compression-{task}",
                  f"{task}: best paper CR (32 / mean Huffman bits) and {within}"
                  f"{' (plain rule: the drop alone, without its standard error)' if groups['se'] else ''}"
                  f", with their test {metric}; median (IQR) over seeds, bold and dagger as above.",
                  ["configuration"] + [m.title for m in groups["plain"]], rows(groups["plain"]))
    tables = [plain]
    if groups["se"]:
        tables.insert(0, Table(f"compression-{task}", f"{task}: best paper CR (32 / mean Huffman "
                               f"bits) and {within_se}, with their test {metric}; "
                               f"median (IQR) over seeds, bold and dagger as above.",
                               ["configuration"] + [m.title for m in groups["se"]],
                               rows(groups["se"])))
    if groups["oracle"]:
        tables.append(Table(f"oracle-{task}", f"{task}: oracle compression (a bound for "
                            f"comparison, never a claim). Oracle CR @test-x: the best CR among "
                            f"solutions chosen by their test {metric} (at most x points below "
                            f"the baseline's): it selects on test; median (IQR) over seeds.",
                            ["configuration"] + [m.title for m in groups["oracle"]],
                            rows(groups["oracle"])))
    return tables[0], tables[1:]


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
    """Mean ranks over every (task, seed) block, for HV and the CR at the largest drop (under
    the report's selection rule)."""
    tag, se = drop_label(res.exp.drops[-1]), default_rule(res) != PLAIN
    keys = [("hv", "HV"), (f"cr_paper@{tag}{'se' if se else ''}", f"CR @{tag}pt{' (1 SE)' if se else ''}")]
    columns, friedman = [], []
    for key, title in keys:  # no CR within the drop is a failure: it ranks last, not out
        ranks, p = stats.average_ranks(seed_blocks(res.trials, key), higher_is_better=True,
                                       missing_last=key != "hv")
        columns.append(ranks)
        friedman.append(f"{title}: p = {p:.3g}" if p is not None else f"{title}: -")
    rows = [[Cell(c)] + [Cell(f"{r[c]:.2f}" if c in r else "-", bold=bool(r) and r.get(c) == min(r.values()))
                         for r in columns] for c in res.configs]
    seeds = counted(len(res.exp.seeds), "seed")
    tasks = counted(len({t.task for t in res.trials}), "task")
    return Table("ranks", f"Mean rank over all {tasks} x {seeds} (1 = best; ties share ranks; "
                 f"where a configuration has no solution within the drop it ranks last on CR). "
                 f"Friedman test: {'; '.join(friedman)}.",
                 ["configuration"] + [f"rank ({t})" for _, t in keys], rows)


def build_document(res: Results, root: Path, figures: dict[str, list[Figure]], run: dict | None
                   ) -> Document:
    """The answer first (across problems, then each problem's comparison and its figures),
    then compression, the supporting tables (collapsed) and the method."""
    from wsbench.report.across import search_incomparable

    sections, apart = [], search_incomparable(res)
    if len({t.task for t in res.trials}) > 1:
        from wsbench.report.across import ACROSS, ert_table, leaderboard

        # where whole methods are compared, their CR across problems is the answer: it leads
        across = [t for t in (methods_across(res),) if t]
        if not apart:
            across += [leaderboard(res), ert_table(res)]
        if apart and across:
            apart += " Whole methods are compared by their compression ratio in the table below."
        sections.append(Section("Across problems", [apart] if apart else [], across,
                                figures.get(ACROSS, [])))
        if not apart:
            sections.append(Section("Ranks across tasks", [], [overall_ranks(res)]))
    with_plain = default_rule(res) != PLAIN  # the plain rule beside the report's, collapsed
    for task in res.tasks:
        if not res.by_task(task):
            continue
        tables, details = task_tables(res, task)
        methods = methods_table(res, task)
        if methods is not None:  # codecs compared, each in its own coding: first where the
            tables.insert(0 if apart else 1, methods)  # search tables are on other scales
        plain = methods_table(res, task, PLAIN) if with_plain else None
        details += [t for t in (plain, paper_table(res, task), merge_table(res, task),
                                coding_table(res, task)) if t is not None]
        note = None if apart else fastest_note(res, task)
        sections.append(Section(f"Results: {task}", [note] if note else [], tables,
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
