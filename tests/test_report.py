"""Reports: files, tables, self-contained HTML, LaTeX, and indicators checked independently."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.records import Coding, Solution
from wsbench.experiments.runner import run_experiment

OPTIMIZERS = ["exhaustive", {"name": "nsga2", "pop_size": 4, "label": "nsga2-p4"}, "random"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    exp = parse_experiment({"name": "rep", "tasks": ["digits-mlp", "digits-cnn"],
                            "spaces": [{"name": "k", "k_max": 24}], "optimizers": OPTIMIZERS,
                            "seeds": [0, 1, 2], "budget": 10, "max_requested": 200,
                            "threads": 1, "device": "cpu"}, source="rep.toml")
    out = tmp_path_factory.mktemp("rep") / "results"
    run_experiment(exp, out, progress=False, log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def report(results):
    from wsbench.cli import main

    assert main(["report", str(results)]) == 0
    return results


def test_report_files_exist(report):
    for name in ("report.md", "report.html", "tables.tex", "indicators.csv", "stats.csv", "pairwise.csv"):
        assert (report / name).stat().st_size > 0, name
    for kind in ("hv", "fronts", "cr-drop", "runtime", "reach", "anytime"):
        png = report / "figures" / f"digits-mlp-{kind}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert b"<svg" in (report / "figures" / f"digits-mlp-{kind}.svg").read_bytes()[:2000]
        assert (report / "figures" / f"digits-cnn-{kind}.png").exists()


def test_markdown_has_the_tables_and_every_configuration(report):
    md = (report / "report.md").read_text()
    for header in ("| configuration | HV | HV / exact | IGD+ |", "| configuration | CR @0.5pt |",
                   "| pair | p | p (Holm) | A12 |"):
        assert header in md
    for label in ("exhaustive", "nsga2-p4", "random"):
        assert re.search(rf"^\| (\*\*)?{label}", md, re.M), label
    assert "Mann-Whitney" in md and "Holm" in md  # the test used is stated
    # the ranking's significance is in the search table's own caption, not a loose note
    caption = next(line for line in md.splitlines() if line.startswith("*digits-mlp: search quality"))
    assert re.search(r"Friedman test over seeds on HV \(3 configurations\): p = [0-9.e-]+\.", caption)
    assert "fastest to the exact front's hypervolume on digits-mlp" in md or \
        "reached the exact front's hypervolume on digits-mlp" in md
    assert "figures/digits-mlp-hv.png" in md
    assert "figures/digits-mlp-anytime.png" in md and "fixed target" in md
    across = md[md.index("## Across problems"):md.index("## Ranks across tasks")]
    assert "| configuration | digits-mlp | digits-cnn | mean rank |" in across
    assert "Expected running time (COCO's ERT)" in across and "figures/across-ecdf.png" in across
    ranks = md[md.index("## Ranks across tasks"):md.index("## Results: digits-mlp")]
    assert "Mean rank over all 2 tasks x 3 seeds" in ranks and "| configuration | rank (HV) |" in ranks
    mean_ranks = [float(m) for m in re.findall(r"^\| [^|]+ \| (?:\*\*)?([0-9.]+)", ranks, re.M)]
    assert len(mean_ranks) == 3 and sum(mean_ranks) == pytest.approx(1 + 2 + 3)  # ranks of 3


def test_html_is_self_contained(report):
    page = (report / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 * 6 + 1  # 2 tasks x 6 figures, 1 across them
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # no external asset
    assert "<table" in page and "nsga2-p4" in page and "<style>" in page


def test_latex_tables_use_booktabs(report):
    tex = (report / "tables.tex").read_text()
    n = tex.count(r"\begin{table}")
    assert n >= 3 and tex.count(r"\toprule") == n == tex.count(r"\bottomrule") == tex.count(r"\midrule")
    assert "nsga2-p4" in tex and r"\label{tab:search-digits-mlp}" in tex
    assert "_" not in re.sub(r"\\_|\\label\{[^}]*\}", "", tex.split("\n", 2)[2])  # escaped


def test_indicators_agree_with_pymoo_on_the_raw_archives(report):
    from pymoo.indicators.hv import HV

    rows = {r["trial"]: r for r in csv.DictReader(open(report / "indicators.csv"))}
    assert len(rows) == 18
    for path in (report / "trials").glob("*.json"):
        rec = json.loads(path.read_text())
        task = rec["trial"]["task"]["name"]
        exact = json.loads(next((report / "exact").glob(f"{task}__*.json")).read_text())
        F = np.array([f for f, c in zip(rec["archive"]["f"], rec["archive"]["cached"]) if not c])
        Z = np.column_stack([F[:, 0], np.log2(F[:, 1]) / 10])  # the documented default
        hv = float(HV(ref_point=np.array([1.0, 1.0]))(Z))
        row = rows[rec["id"]]
        assert float(row["hv"]) == pytest.approx(hv, rel=1e-9)
        P = np.array(exact["front_f"])
        hv_exact = float(HV(ref_point=np.array([1.0, 1.0]))(np.column_stack([P[:, 0], np.log2(P[:, 1]) / 10])))
        assert float(row["hv_ratio"]) == pytest.approx(hv / hv_exact, rel=1e-9)
        base = rec["baseline"]["val"]
        ok = [m for m in rec["merged"] if base - m["val"] <= 0.01 + 1e-12]
        best = max((m["cr_paper"] for m in ok), default=float("nan"))
        assert float(row["cr_paper@1"]) == pytest.approx(best, nan_ok=True)
    # exhaustive ignores its seed: the same archive, so the same HV, for every seed
    ex = [r for r in rows.values() if r["configuration"] == "exhaustive" and r["task"] == "digits-mlp"]
    assert len(ex) == 3 and len({r["hv"] for r in ex}) == 1


def test_stats_csv_medians_match_indicators(report):
    rows = list(csv.DictReader(open(report / "indicators.csv")))
    stats = {(r["task"], r["configuration"], r["metric"]): r
             for r in csv.DictReader(open(report / "stats.csv"))}
    for config in ("exhaustive", "nsga2-p4", "random"):
        hv = [float(r["hv"]) for r in rows if r["configuration"] == config and r["task"] == "digits-cnn"]
        assert float(stats[("digits-cnn", config, "hv")]["median"]) == pytest.approx(float(np.median(hv)))
        assert int(stats[("digits-cnn", config, "hv")]["n"]) == 3


def test_report_of_a_folder_without_results_is_one_line(tmp_path, capsys):
    from wsbench.cli import main

    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wsbench: error: ") and "\n" not in err and "experiment.json" in err


def test_merges_on_shared_searches_are_compared_member_by_member(tmp_path):
    from wsbench.report.data import load_results
    from wsbench.report.paired import member_pairs, merge_table

    exp = parse_experiment({"name": "pairs", "tasks": ["digits-mlp"],
                            "spaces": [{"name": "k", "k_max": 24}], "optimizers": ["exhaustive"],
                            "merges": ["none", "neighbor"], "seeds": [0, 1], "budget": 10,
                            "max_requested": 200, "max_drop": 0.05, "threads": 1, "device": "cpu",
                            "exact": {"enabled": False}}, source="pairs.toml")
    run_experiment(exp, tmp_path, progress=False, log=lambda m: None)
    res = load_results(tmp_path)
    unmerged, merged, searches = member_pairs(res.trials, "none", "neighbor")
    fronts = [t.record["front"] for t in res.trials if t.trial.merge.label == "none"]
    distinct = {tuple(s["x"]) for f in fronts for s in f}
    # exhaustive finds the same front with either seed: each member is one pair, not two
    assert sum(len(f) for f in fronts) == 2 * len(distinct)
    assert searches == 2 and len(unmerged) == len(merged) == len(distinct) > 0
    for u, m in zip(unmerged, merged):
        assert u["x"] == m["x"] and m["d"] <= u["d"]  # the same member, merged or not
    table = merge_table(res, "digits-mlp")
    (row,) = table.rows
    assert row[0].text == "neighbor vs none" and row[1].text == "2" and row[2].text == str(len(merged))
    wins, ties, losses = map(int, row[4].text.split("/"))  # test metric: better/tie/worse
    assert wins + ties + losses == len(merged)
    # a folder whose merges are not varied has no such table
    exp1 = parse_experiment({"name": "one", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 24}],
                             "optimizers": ["exhaustive"], "seeds": [0], "budget": 10,
                             "threads": 1, "device": "cpu", "exact": {"enabled": False}},
                            source="one.toml")
    run_experiment(exp1, tmp_path / "one", progress=False, log=lambda m: None)
    assert merge_table(load_results(tmp_path / "one"), "digits-mlp") is None


def test_per_tensor_coding_is_compared_on_the_same_solutions(report):
    md = (report / "report.md").read_text()
    assert "codings beyond the paper (per-tensor Huffman tables; context-adaptive" in md
    assert "+ per-tensor Huffman" in md and "+ adaptive arithmetic" in md  # the Table-I rows
    rows = list(csv.DictReader(open(report / "indicators.csv")))
    values = [float(r["cr_file_layer@test0.5"]) for r in rows]
    assert any(np.isfinite(values)) and all(v > 1 for v in values if np.isfinite(v))
    for path in (report / "trials").glob("*.json"):
        for s in json.loads(path.read_text())["merged"]:
            # same indices, so never more index bits than the shared table
            assert s["bits_layer"] <= s["bits_huffman"] + 1e-12
            assert Solution.from_dict(s).has(Coding.ADAPTIVE)


def test_trials_of_other_configurations_in_the_folder_are_named_not_dropped_silently(tmp_path, capsys):
    """A narrower experiment run into a shared folder keeps the other trials; run and report say so."""
    from wsbench.cli import main
    from wsbench.report.data import load_results

    base = {"name": "share", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 24}],
            "optimizers": ["exhaustive"], "seeds": [0], "budget": 10, "max_requested": 200,
            "max_drop": 0.05, "threads": 1, "device": "cpu", "exact": {"enabled": False}}
    both = run_experiment(parse_experiment({**base, "merges": ["none", "neighbor"]}, source="a.toml"),
                          tmp_path, progress=False, log=lambda m: None)
    assert both.ran == 2 and both.other_trials == []
    narrow = tmp_path / "narrow.toml"
    narrow.write_text('name = "share"\ntasks = ["digits-mlp"]\nspaces = [{ name = "k", k_max = 24 }]\n'
                      'optimizers = ["exhaustive"]\nmerges = ["neighbor"]\nseeds = [0]\nbudget = 10\n'
                      'max_requested = 200\nmax_drop = 0.05\nthreads = 1\ndevice = "cpu"\n'
                      '[exact]\nenabled = false\n')
    assert main(["run", str(narrow), "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 already done, 0 run" in out
    assert "note: 1 finished trial(s)" in out and "not in" in out
    res = load_results(tmp_path)
    assert [t.trial.merge.label for t in res.trials] == ["neighbor"]
    (other,) = res.others
    assert "__none__" in other and (tmp_path / "trials" / f"{other}.json").exists()
    assert main(["report", str(tmp_path), "--no-figures", "--format", "markdown"]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "left out, not in this experiment" in md and other in md
    assert main(["run", str(narrow), "--out", str(tmp_path), "--no-progress", "--seeds", "1-1"]) == 0
    out = capsys.readouterr().out  # the override, not the file, left seed 0 out: said so
    assert "note: 2 finished trial(s)" in out and "outside this run (--seeds 1-1)" in out
    assert "without these overrides" in out and "not in" not in out


def test_the_report_leads_with_the_answer(report):
    """Across problems first, then per problem: the comparison, its figures, compression; the
    supporting tables (Table I, oracle bounds) collapsed; the method last."""
    md = (report / "report.md").read_text()
    order = [md.index(h) for h in ("## Across problems", "## Results: digits-mlp",
                                   "## Results: digits-cnn", "## Method")]
    assert order == sorted(order)
    section = md[md.index("## Results: digits-mlp"):md.index("## Results: digits-cnn")]
    search = section.index("| configuration | HV |")
    figure = section.index("figures/digits-mlp-hv.png")
    # the one-standard-error selection leads; the plain rule and the oracle bounds are collapsed
    compression = section.index("| configuration | CR @0.5pt (1 SE) | CR file @0.5pt (1 SE) |")
    assert search < figure < compression
    lead = section[compression:section.index("<details>")]
    assert "oracle" not in lead and "| configuration | CR @0.5pt |" not in lead
    for summary in ("digits-mlp: the paper's Table I", "digits-mlp: oracle compression",
                    "digits-mlp: best paper CR (32 / mean Huffman bits) and whole-file CR after "
                    "merging, among solutions whose validation f1 is at most 0.5 or 1 point below "
                    "the baseline (plain rule"):
        assert f"<details><summary>{summary}" in section
    page = (report / "report.html").read_text()
    assert page.count("<details>") == md.count("<details>") >= 4


FONT_PX, SMALL_PX, PAD_PX = 13, 11, 18  # the report's CSS: table font, IQR line, cell padding


def table_widths(page: str) -> dict[str, float]:
    """Estimated rendered width (px) of each table of a report page: cells do not wrap (but
    long text ones, anywhere, within 20em), an IQR sits on its own smaller line, a header wraps at spaces; text measured in DejaVu
    Sans (wider than most sans-serif fonts, so the estimate errs wide)."""
    from html.parser import HTMLParser
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    ttf = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    fonts = {px: ImageFont.truetype(ttf, px) for px in (FONT_PX, SMALL_PX)}

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell, self.col, self.small, self.skip = {}, None, 0, False, 0

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "table":
                self.current = self.tables.setdefault(a.get("id", str(len(self.tables))), {})
            elif tag == "caption":
                self.skip += 1
            elif tag in ("tr",):
                self.col = 0
            elif tag in ("td", "th"):
                self.cell = {"th": tag == "th", "lines": [""], "small": [], "wraps": a.get("class") == "t"}
            elif tag == "span" and a.get("class") == "iqr" and self.cell is not None:
                self.small = True

        def handle_endtag(self, tag):
            if tag == "caption":
                self.skip -= 1
            elif tag == "span":
                self.small = False
            elif tag in ("td", "th") and self.cell is not None:
                c = self.cell
                words = [fonts[FONT_PX].getlength(word) for word in (c["lines"][0].split() or [""])]
                if c["th"]:  # wraps at spaces: its widest word
                    w = max(words)
                elif c["wraps"]:  # long text: wraps (anywhere) within 20em
                    w = min(fonts[FONT_PX].getlength(c["lines"][0]), 20 * FONT_PX)
                else:
                    w = max([fonts[FONT_PX].getlength(c["lines"][0])]
                            + [fonts[SMALL_PX].getlength(s) for s in c["small"]])
                self.current[self.col] = max(self.current.get(self.col, 0.0), w + PAD_PX)
                self.col += 1
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None and not self.skip:
                if self.small:
                    self.cell["small"].append(data)
                else:
                    self.cell["lines"][0] += data

    parser = Tables()
    parser.feed(page)
    return {name: sum(cols.values()) for name, cols in parser.tables.items()}


def test_the_width_estimate_sees_a_table_wider_than_the_page():
    from wsbench.report.html_page import table_html
    from wsbench.report.model import Cell, Table

    wide = Table("wide", "", ["configuration"] + [f"column {i}" for i in range(20)],
                 [[Cell("cb-nsga2(pop_size=20)")] + [Cell("0.5910 (0.0086)") for _ in range(20)]])
    narrow = Table("narrow", "", ["configuration", "HV"], [[Cell("random"), Cell("0.5 (0.1)")]])
    widths = table_widths(table_html(wide) + table_html(narrow))
    assert widths["wide"] > 1150 > 800 > widths["narrow"] > 60


def test_no_table_is_wider_than_the_page(report):
    """The HTML page is 1,150 px wide; no table of the report needs more (estimated)."""
    widths = table_widths((report / "report.html").read_text())
    assert len(widths) >= 10
    too_wide = {name: round(w) for name, w in widths.items() if w > 1150}
    assert not too_wide


def test_legends_sit_outside_the_axes_so_no_curve_end_is_hidden():
    from wsbench.report.plots import _plt, legend_outside

    plt = _plt()
    fig, ax = plt.subplots()
    for i in range(3):
        ax.plot([0, 1], [i, i + 1], label=f"c{i}")
    legend_outside(ax)
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    assert box.x0 >= ax.get_window_extent().x1  # right of the plotting area, not over it
    plt.close(fig)


def test_captions_count_one_thing_in_the_singular():
    from wsbench.report.columns import counted

    assert counted(1, "seed") == "1 seed" and counted(3, "seed") == "3 seeds"
    assert counted(0, "task") == "0 tasks"
