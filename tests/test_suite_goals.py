"""benchmarks/suite_goals.py: grouping calibration draws, the worst-draw ratios, the goals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from suite_goals import LIBRARY, STANDARD, SUITE, Goal, headline, judge, method_of  # noqa: E402


def space(name: str, label: str, **options) -> dict:
    return {"name": name, "label": label, "options": {"label": label, **options}}


METHODS = {c: method_of(c, s) for c, s in {
    "nnc / exhaustive": space("nncodec", "nnc", qp_min=-32, qp_max=-16),
    "gq-c6 / exhaustive": space("nncodec", "gq-c6", gptq=256, calib_seed=6),
    "gq-c7 / exhaustive": space("nncodec", "gq-c7", gptq=256, calib_seed=7),
    "brevitas-gptq / exhaustive": space("brevitas", "brevitas-gptq", method="gptq", calib_seed=6),
    "brevitas-gpfq / exhaustive": space("brevitas", "brevitas-gpfq", method="gpfq", calib_seed=6),
    "mo-ub / nsga2": space("k", "mo-ub"),
}.items()}


def test_draws_of_one_method_share_a_family_and_kinds_follow_the_space():
    kinds = {c: (m.family, m.kind) for c, m in METHODS.items()}
    assert kinds["gq-c6 / exhaustive"] == ("gq / exhaustive", SUITE)
    assert kinds["gq-c7 / exhaustive"] == ("gq / exhaustive", SUITE)
    assert kinds["nnc / exhaustive"] == ("nnc / exhaustive", STANDARD)
    # a library's calibration seed is not a draw suffix of its label: its own family
    assert kinds["brevitas-gptq / exhaustive"] == ("brevitas-gptq / exhaustive", LIBRARY)
    assert kinds["mo-ub / nsga2"] == ("mo-ub / nsga2", SUITE)


def cells(drop: float, **cr) -> dict:
    names = {"nnc": "nnc / exhaustive", "c6": "gq-c6 / exhaustive", "c7": "gq-c7 / exhaustive",
             "gptq": "brevitas-gptq / exhaustive", "gpfq": "brevitas-gpfq / exhaustive",
             "moub": "mo-ub / nsga2"}
    return {(names[k], drop): {"cr_file": v, "test_drop": 0.1} for k, v in cr.items()}


GOALS = (Goal("cifar10-", 0.01, vs_standard=1.4, vs_library=1.2),
         Goal("cifar10-r56", 0.01, cr_each_draw=20.0))


def test_judged_on_the_worst_draw_against_the_standard_and_the_better_library():
    row = judge(cells(0.01, nnc=10.0, c6=16.0, c7=14.5, gptq=11.0, gpfq=12.5, moub=15.0),
                METHODS, "cifar10-r20", 0.01, GOALS)
    # worst gq draw 14.5 < mo-ub's 15.0: mo-ub is the best method by its worst (only) draw
    assert row["method"] == "mo-ub / nsga2"
    assert row["vs_standard"] == pytest.approx(1.5)
    assert row["vs_library"] == pytest.approx(15.0 / 12.5)
    assert row["library"] == "brevitas-gpfq / exhaustive"
    assert row["goals"] == [("x NNC >= 1.4", True), ("x Brevitas >= 1.2", True)]


def test_a_draw_with_nothing_within_the_drop_counts_as_nothing_compressed():
    row = judge({**cells(0.01, nnc=10.0, c6=30.0, gptq=8.0), ("gq-c7 / exhaustive", 0.01):
                 {"cr_file": None, "test_drop": None}},
                {c: m for c, m in METHODS.items() if "mo-ub" not in c}, "cifar10-r56", 0.01, GOALS)
    assert row["method"] == "gq / exhaustive"
    assert row["cr"] == [30.0, 0.0]
    assert row["vs_standard"] == 0.0
    assert dict(row["goals"]) == {"x NNC >= 1.4": False, "x Brevitas >= 1.2": False,
                                  "CR >= 20.0 each draw": False}


def test_goals_apply_only_to_their_problems_and_drop():
    c = cells(0.005, nnc=10.0, c6=16.0, c7=16.0)
    assert judge(c, METHODS, "cifar10-r20", 0.005, GOALS)["goals"] == []
    row = judge(cells(0.01, nnc=10.0, c6=16.0, c7=16.0), METHODS, "digits-cnn", 0.01, GOALS)
    assert row["goals"] == [] and row["library"] is None and row["vs_library"] is None
    assert judge(cells(0.01, c6=16.0), METHODS, "cifar10-r20", 0.01, GOALS) is None  # no standard


def test_headline_cells_name_the_standard_every_draw_and_the_best_library():
    row = judge(cells(0.01, nnc=10.0, c6=16.0, c7=17.0, gptq=11.0, gpfq=9.0),
                {c: m for c, m in METHODS.items() if "mo-ub" not in c}, "cifar10-r20", 0.01, GOALS)
    assert headline([row]) == {("cifar10-r20", label, 0.01)
                               for label in ("nnc", "gq-c6", "gq-c7", "brevitas-gptq")}
