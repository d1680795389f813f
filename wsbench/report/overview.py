"""The report's overview: what the experiment was (method paragraphs) and its tasks' table
(baselines, shared weights, reference fronts, normalisation), apart from the results."""

from __future__ import annotations

from wsbench.experiments import stats
from wsbench.report.best_known import is_best_known
from wsbench.report.columns import counted
from wsbench.report.data import Results, exact_hv
from wsbench.report.model import Cell, Table


def tasks_table(res: Results) -> Table:
    rows = []
    for task in res.tasks:
        trials = res.by_task(task)
        ref = res.reference[task]
        ex = [e for e in res.exact_for(task) if e.ok]
        exact = "; ".join(f"{'best-known: ' if is_best_known(e) else ''}{len(e.front_f)} front "
                          f"points of {e.points}, HV {exact_hv(e, ref):.4f}"
                          for e in ex) or "not computable"
        b = trials[0].record.baseline if trials else None
        rows.append([Cell(task), Cell(f"{b.val:.4f}" if b else "-"), Cell(f"{b.test:.4f}" if b else "-"),
                     Cell(str(trials[0].record.n_shared) if trials else "-"), Cell(exact),
                     Cell(ref.as_dict()["formula"])])
    return Table("tasks", f"Tasks: baseline {res.exp.metric} of the uncompressed model, shared weights, "
                 f"exact front (exhaustive over the whole space) or, where the space is too large, the "
                 f"best-known front (the non-dominated union of every trial's archive, written to "
                 f"best-known/), and the fixed indicator normalisation.",
                 ["task", f"val {res.exp.metric}", f"test {res.exp.metric}", "shared weights",
                  "reference front", "normalisation / reference"], rows, align="lrrrll")


def method_paragraphs(res: Results, run: dict | None) -> list[str]:
    e = res.exp
    runs = res.store.runs()
    machine = (run or {}).get("machine", {})
    git = (run or {}).get("git", {})
    total = sum(t.record.seconds["total"] for t in res.trials)
    out = [
        f"Experiment **{e.name}**{': ' + e.description if e.description else ''}. "
        f"{len(res.exp.trials())} trials = {len(e.tasks)} task(s) x {len(e.spaces)} space(s) x "
        f"{len(e.quantizers)} quantizer(s) x {len(e.optimizers)} optimizer(s) x {len(e.merges)} merge(s) "
        f"x {counted(len(e.seeds), 'seed')}; budget {e.budget} unique evaluations per trial"
        + (f", at most {e.max_requested} requested" if e.max_requested else "") + ".",
        f"Objectives: f1 = 1 - validation {e.metric}, f2 = d (shared values); every evaluation of a "
        f"trial is archived and indicators use the archive's non-dominated set. Hypervolume uses a "
        f"fixed normalisation and reference point per task (table below), never derived from the fronts. "
        f"After the search, front members at most {100 * e.max_drop:g} point(s) below the baseline's "
        f"validation {e.metric} are merged and Huffman-coded and re-scored on the test split.",
        f"Statistics over seeds: median and IQR in tables (mean and std in stats.csv); "
        f"{stats.TEST_NAME}; Vargha-Delaney A12 effect size; ranks are Friedman-style mean ranks.",
        f"Summed trial time {total:.1f} s"
        + (f"; `wsbench run` wall time {sum(r.get('seconds', 0) for r in runs):.1f} s over "
           f"{len(runs)} run(s)" if runs else "")
        + f" on {machine.get('cpu_model') or machine.get('processor', '?')} "
        f"({machine.get('cpu_count', '?')} CPUs, torch threads {machine.get('torch_threads', '?')}); "
        f"git {str(git.get('commit'))[:10]}{' (dirty)' if git.get('dirty') else ''}.",
    ]
    return out
