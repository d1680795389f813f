"""Per-configuration summary columns: the metrics a report tabulates, and one column of
median (IQR) over seeds with the best in bold and a dagger where a test says worse."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wsbench.experiments import stats
from wsbench.experiments.indicators import drop_label, layer_column
from wsbench.report.best_known import reference_name
from wsbench.report.data import Results, TrialResult, screened
from wsbench.report.model import Cell


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    higher: bool | None  # None: informative only (no best, no test)
    fmt: str
    kind: str = ""       # compression: "se" (1-SE margin), "plain" or "oracle" (selected on test)


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
    """Per drop, the one-standard-error selection first where every record has the errors
    (titles "(1 SE)"), then the plain one; then the oracle columns (selected on test)."""
    from wsbench.report.methods import ONE_SE, default_rule

    metric, out = res.exp.metric, []
    rules = (("se", " (1 SE)"), ("plain", "")) if default_rule(res) == ONE_SE else (("plain", ""),)
    for d in res.exp.drops:
        t = drop_label(d)
        for kind, tag in rules:
            suffix = "se" if kind == "se" else ""
            out += [Metric(f"cr_paper@{t}{suffix}", f"CR @{t}pt{tag}", True, ".2f", kind),
                    Metric(f"cr_file@{t}{suffix}", f"CR file @{t}pt{tag}", True, ".2f", kind),
                    Metric(f"test@{t}{suffix}", f"test {metric} @{t}pt{tag}", True, ".4f", kind)]
    for d in res.exp.drops:
        t = drop_label(d)
        out += [Metric(f"cr_paper@test{t}", f"oracle CR @test-{t}pt", True, ".2f", "oracle"),
                Metric(f"cr_file@test{t}", f"oracle CR file @test-{t}pt", True, ".2f", "oracle")]
    for d in res.exp.drops:  # records written before the per-tensor coding lack it
        key = layer_column(drop_label(d))
        if any(key in t.indicators for t in res.trials):
            out.append(Metric(key, f"oracle CR file per-tensor @test-{drop_label(d)}pt", True,
                              ".2f", "oracle"))
    return out


def values(trials: list[TrialResult], config: str, key: str) -> list[float]:
    return [float(t.indicators.get(key, float("nan"))) for t in trials if t.config == config]


def counted(n: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``: captions count things that are sometimes one."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def fmt_value(v: float, fmt: str) -> str:
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "never" if v > 0 else "-inf"
    return format(v, fmt)


def _cell_text(s: stats.Summary, fmt: str) -> str:
    if s.n == 0:
        return "-"
    iqr = "" if math.isnan(s.iqr) or math.isinf(s.iqr) else f" ({fmt_value(s.iqr, fmt)})"
    return fmt_value(s.median, fmt) + iqr


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


def seed_blocks(trials: list[TrialResult], key: str) -> list[dict[str, float]]:
    blocks: dict[tuple, dict[str, float]] = {}
    for t in trials:
        blocks.setdefault((t.task, t.trial.seed), {})[t.config] = float(t.indicators.get(key, np.nan))
    return list(blocks.values())
