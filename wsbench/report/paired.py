"""Paired comparisons on the same solutions: merge strategies that ran on the same searches,
and the per-tensor Huffman coding against the paper's one shared table.

Trials that differ only in their merge share the search (same seed, same harness, same chosen
front members), so each front member is merged once by each strategy. Pairing the members
isolates the merge and gives a paired test (Wilcoxon signed-rank) far more power than the
rank-sum over seeds, which cannot reach p < 0.05 with three seeds.
"""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np

from wsbench.experiments import stats
from wsbench.experiments.records import Coding, Solution, TrialRecord
from wsbench.report.data import Results, TrialResult
from wsbench.report.model import Cell, Table
from wsbench.report.paper_table import LATER_CODINGS

# (Solution attribute, column title, format): higher is better for each
PAIRED_METRICS = (("test", "test {metric}", ".4f"), ("cr_paper", "CR paper", ".2f"),
                  ("cr_file", "CR file", ".2f"))


def _search_key(t: TrialResult) -> str:
    """Everything about a trial except its merge (and the label)."""
    cfg = dict(t.record.trial)
    cfg.pop("merge", None)
    return json.dumps(cfg, sort_keys=True, default=str)


def _member_key(record: TrialRecord, x: list) -> str:
    """A front member's identity: its decision under what its merges depend on (task, space,
    quantizer, screening), not under which seed or optimizer found it."""
    cfg = {k: v for k, v in record.trial.items()
           if k not in ("merge", "seed", "optimizer", "budget", "max_requested", "max_drop")}
    return json.dumps([cfg, list(x)], sort_keys=True, default=str)


def member_pairs(trials: list[TrialResult], a: str, b: str
                 ) -> tuple[list[Solution], list[Solution], int]:
    """Merged solutions of merge ``a`` and ``b`` on the same front members, in matching order,
    and the number of searches that were paired (searches whose fronts differ are left out).

    A front member that several seeds found counts once: its merges are the same deterministic
    post-processing each time, and counting repeats as independent pairs would overstate p.
    """
    by_search: dict[str, dict[str, TrialResult]] = {}
    for t in trials:
        by_search.setdefault(_search_key(t), {})[t.trial.merge.label] = t
    xs, ys, n = [], [], 0
    seen: set[str] = set()
    for group in by_search.values():
        if a not in group or b not in group:
            continue
        ra, rb = group[a].record, group[b].record
        if [s.x for s in ra.front] != [s.x for s in rb.front]:
            continue  # not the same search after all (e.g. a non-deterministic optimizer)
        n += 1
        for member, x, y in zip(ra.front, ra.merged, rb.merged):
            key = _member_key(ra, member.x)
            if key not in seen:
                seen.add(key)
                xs.append(x)
                ys.append(y)
    return xs, ys, n


def _delta_cell(xa: np.ndarray, xb: np.ndarray, fmt: str) -> list[Cell]:
    diff = xb - xa
    wins, ties, losses = int((diff > 0).sum()), int((diff == 0).sum()), int((diff < 0).sum())
    p = stats.signed_rank_p(xb, xa)
    return [Cell(f"{np.median(diff):+{fmt}}"), Cell(f"{wins}/{ties}/{losses}"),
            Cell(f"{p:.3g}", bold=p < 0.05)]


def _dominates(p: Solution, q: Solution) -> bool:
    """At least as good in test metric and whole-file CR, and better in one of them."""
    mine, theirs = (p.test, p.cr_file), (q.test, q.cr_file)
    return all(a >= b for a, b in zip(mine, theirs)) and mine != theirs


def merge_table(res: Results, task: str) -> Table | None:
    """One row per pair of merges that share searches on ``task``; None if there is none."""
    if "merge" not in res.varying:
        return None
    trials = res.by_task(task)
    merges = [m.label for m in res.exp.merges]
    rows = []
    for a, b in combinations(merges, 2):
        xs, ys, n_search = member_pairs(trials, a, b)
        if not xs:
            continue
        row = [Cell(f"{b} vs {a}"), Cell(str(n_search)), Cell(str(len(xs)))]
        for key, _, fmt in PAIRED_METRICS:
            row += _delta_cell(np.array([getattr(s, key) for s in xs]),
                               np.array([getattr(s, key) for s in ys]), fmt)
        b_wins = sum(_dominates(y, x) for x, y in zip(xs, ys))
        a_wins = sum(_dominates(x, y) for x, y in zip(xs, ys))
        row.append(Cell(f"{b_wins} / {a_wins}"))
        rows.append(row)
    if not rows:
        return None
    metric = res.exp.metric
    columns = ["merges (b vs a)", "searches", "members"]
    for _, title, _ in PAIRED_METRICS:
        t = title.format(metric=metric)
        columns += [f"{t}: median b - a", f"{t}: b better/tie/worse", f"{t}: p"]
    columns.append("b dominates / a dominates")
    return Table(f"merge-pairs-{task}",
                 f"{task}: merges compared on the same front members (the searches are shared, "
                 f"so each member is merged by both). Values after merging and Huffman coding; "
                 f"test {metric} on the full test split. p: two-sided Wilcoxon signed-rank over "
                 f"distinct members (a member several seeds found counts once), ties dropped "
                 f"(bold: p < 0.05). Dominates: at least as good in both "
                 f"test {metric} and whole-file CR, better in one.", columns, rows)


# (CodedSize attribute, title) of each CR compared between a coding and the one shared table
CODING_METRICS = (("cr_paper", "CR paper"), ("cr_file", "CR file"))


def coding_table(res: Results, task: str) -> Table | None:
    """Each coding beyond the paper (per-tensor Huffman tables; context-adaptive arithmetic
    coding) against one shared Huffman table, on every merged solution of ``task``.

    The codings are lossless, so every coding of a solution has the same validation and test
    metric: any CR gain is a gain at the same test metric. A coding that the records lack (older
    records) has no rows; None when no coding has any.
    """
    rows = []
    for coding, name in LATER_CODINGS.items():
        for label, sols in _distinct_merged(res, task, coding).items():
            row = [Cell(label), Cell(name), Cell(str(len(sols)))]
            for attr, _ in CODING_METRICS:
                xa = np.array([getattr(s.sizes[Coding.HUFFMAN], attr) for s in sols])
                xb = np.array([getattr(s.sizes[coding], attr) for s in sols])
                row += _delta_cell(xa, xb, ".2f")
                row.append(Cell(f"{100 * np.median(xb / xa - 1):+.1f}%"))
            rows.append(row)
    if not rows:
        return None
    columns = ["merge", "coding", "distinct solutions"]
    for _, title in CODING_METRICS:
        columns += [f"{title}: median coding - shared", f"{title}: better/tie/worse",
                    f"{title}: p", f"{title}: median change"]
    return Table(f"coding-pairs-{task}",
                 f"{task}: codings beyond the paper (per-tensor Huffman tables; context-adaptive "
                 f"binary arithmetic coding, DeepCABAC-like) against the paper's one shared Huffman "
                 f"table, on the same final solutions (after the trial's merge; merge none: "
                 f"the front members as found). The codings are lossless, so the "
                 f"test {res.exp.metric} of each pair is identical. The whole-file CR counts each "
                 f"coding's side information. A solution that several seeds reached counts once. "
                 f"p: two-sided Wilcoxon signed-rank, ties dropped "
                 f"(bold: p < 0.05).", columns, rows)


def _distinct_merged(res: Results, task: str, coding: Coding) -> dict[str, list[Solution]]:
    """Per merge label, the distinct merged solutions of the trials whose records have ``coding``
    (seeds that reach the same solution count it once: the pairs must be independent)."""
    groups: dict[str, dict[tuple, Solution]] = {}
    for t in res.by_task(task):
        sols = t.record.merged if t.record.ok else []
        if sols and all(s.has(coding) for s in sols):
            group = groups.setdefault(t.trial.merge.label, {})
            for s in sols:
                group.setdefault((s.k, s.d, s.sizes[Coding.HUFFMAN].bits, s.test), s)
    return {label: list(unique.values()) for label, unique in groups.items()}
