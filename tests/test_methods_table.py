"""Whole methods side by side (wsbench.report.methods): own coding, validation selection, ratio
to the NNC standard, per problem and across problems."""

from __future__ import annotations

import pytest
from wsbench_plugins import nncodec_adapter

from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment

pytestmark = pytest.mark.skipif(not nncodec_adapter.available(),
                                reason="needs the nncodec extra (the NNC standard is the reference)")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from wsbench.report.data import load_results

    exp = parse_experiment({
        "name": "methods", "tasks": ["digits-mlp", "digits-cnn"], "seeds": [0], "budget": 6,
        "size": "bits", "threads": 1, "device": "cpu", "drops": [0.005, 0.01], "max_drop": 0.01,
        "configs": [
            {"space": {"name": "nncodec", "qp_min": -30, "qp_max": -26, "label": "nnc"},
             "optimizer": "exhaustive", "merge": "none", "size_coding": "native", "budget": 5},
            {"space": {"name": "nncodec", "qp_min": -30, "qp_max": -26, "pack_rest": True,
                       "label": "nnc-packed"},
             "optimizer": "exhaustive", "merge": "none", "size_coding": "native", "budget": 5},
            {"space": {"name": "k", "k_min": 8, "k_max": 13, "label": "mo-ub"},
             "optimizer": "exhaustive", "merge": "none"},
        ], "exact": {"enabled": False}}, source="methods.toml")
    out = tmp_path_factory.mktemp("methods") / "results"
    run_experiment(exp, out, progress=False, log=lambda m: None)
    return load_results(out)


def by_hand(t, drop: float, key: str, one_se: bool):
    """The member of largest CR (``key``) whose validation drop (plus its standard error, with
    ``one_se``) is within ``drop``."""
    base = t.record.baseline
    ok = [s for s in t.record.front
          if base.val - s.val + (s.val_se if one_se else 0.0) <= drop + 1e-12]
    return max(ok, key=lambda s: s[key]) if ok else None


def test_every_front_member_keeps_the_standard_error_of_its_drop(results):
    members = [(s, t.record.baseline.val) for t in results.trials for s in t.record.front]
    assert members and all(s.val_se is not None and s.val_se >= 0 for s, _ in members)
    assert any(s.val_se > 0 for s, base in members if s.val != base)


@pytest.mark.parametrize("one_se", [True, False])
def test_each_method_is_selected_on_validation_in_its_own_coding(results, one_se):
    from wsbench.report.methods import ONE_SE, PLAIN, default_rule, is_standard, methods_table

    assert default_rule(results) == ONE_SE  # every record keeps its errors
    table = methods_table(results, "digits-mlp", None if one_se else PLAIN)
    assert table.label == ("methods-digits-mlp" if one_se else "methods-plain-digits-mlp")
    rows = {(r[0].text, r[2].text): r for r in table.rows}
    assert {k[0] for k in rows} == {"nnc", "nnc-packed", "mo-ub"}
    trials = {t.config: t for t in results.by_task("digits-mlp")}
    assert is_standard(trials["nnc"].record.trial["space"])
    assert not is_standard(trials["nnc-packed"].record.trial["space"])
    for drop, label in ((0.005, "0.5 pt"), (0.01, "1 pt")):
        ref = by_hand(trials["nnc"], drop, "cr_file_native", one_se)
        for config, key, coding in (("nnc", "cr_file_native", "native"),
                                    ("nnc-packed", "cr_file_native", "native"),
                                    ("mo-ub", "cr_file", "huffman")):
            row, pick = rows[config, label], by_hand(trials[config], drop, key, one_se)
            assert row[1].text == coding
            rec = trials[config].record  # one seed: its evaluation time over its decisions
            assert table.columns[8] == "s / decision"
            assert float(row[8].text) == pytest.approx(rec.seconds["evaluations"] / rec.unique, abs=0.005)
            if pick is None:
                assert row[3].text == "-"
                continue
            assert float(row[3].text) == pytest.approx(pick[key], abs=0.005)
            test_drop = 100 * (trials[config].record.baseline.test - pick.test)
            assert float(row[6].text) == pytest.approx(test_drop, abs=0.005)
            if ref is not None:
                assert float(row[4].text.rstrip("x")) == pytest.approx(pick[key] / ref["cr_file_native"], abs=0.005)
    assert rows["nnc", "1 pt"][4].text in ("1.00x", "-")


def test_the_report_compares_methods_per_problem_and_across_problems(results, tmp_path):
    from wsbench.report.build import build_document
    from wsbench.report.markdown import render

    md = render(build_document(results, results.path, {}, None))
    assert "| method | coding | within (val) | whole-file CR | vs NNC |" in md
    # where whole methods are compared, their table is the answer across problems; the search
    # views would rank hypervolumes of different spaces and size objectives, and are left out
    across = md[md.index("## Across problems"):md.index("## Results: digits-mlp")]
    assert "| problem | method | CR @0.5pt | vs NNC @0.5pt | test drop @0.5pt | CR @1pt |" in across
    assert across.count("| digits-cnn | ") == 3 and across.count("| digits-mlp | ") == 3
    # the cost of a decision is compared across problems too, from each trial's own clock
    row = next(line for line in across.splitlines() if line.startswith("| digits-cnn | nnc |"))
    rec = next(t.record for t in results.by_task("digits-cnn") if t.config == "nnc")
    assert float(row.strip("|").split("|")[-1]) == pytest.approx(
        rec.seconds["evaluations"] / rec.unique, abs=0.005)
    assert "different spaces (k, nncodec) with different size objectives" in across
    assert "*Leaderboard over" not in md and "## Ranks across tasks" not in md
    assert "Most reliable, then fastest" not in md
    # and on each problem the methods table comes before the search tables
    mlp = md[md.index("## Results: digits-mlp"):md.index("## Results: digits-cnn")]
    assert mlp.index("| method | coding | within (val) |") < mlp.index("HV")


def test_the_methods_figure_marks_each_seeds_validation_selected_member(results, tmp_path):
    from wsbench.report.methods import ONE_SE
    from wsbench.report.methods_plot import figure_points, methods_figure

    points = figure_points(results, "digits-mlp", ONE_SE)
    trials = {t.config: t for t in results.by_task("digits-mlp")}
    assert set(points) == {"nnc", "nnc-packed", "mo-ub"}
    for config, key in (("nnc", "cr_file_native"), ("mo-ub", "cr_file")):
        dots, picks = points[config]
        rec = trials[config].record
        assert len(dots) == len(rec.front)
        want = [(i, by_hand(trials[config], d, key, True)) for i, d in enumerate((0.005, 0.01))]
        assert picks == [(i, pytest.approx(m[key]), pytest.approx(100 * (rec.baseline.test - m.test)))
                         for i, m in want if m is not None]
    assert any(picks for _, picks in points.values())  # something was selected and compared
    fig = methods_figure(results, "digits-mlp", tmp_path / "m")
    assert fig.stem.with_suffix(".png").stat().st_size > 0 and "(1 SE)" in fig.caption
