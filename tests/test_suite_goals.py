"""benchmarks/suite_goals.py: grouping calibration draws, the worst-draw ratios, the goals and
which headline cells become files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

from suite_files import plan  # noqa: E402
from suite_goals import LIBRARY, STANDARD, SUITE, Goal, judge, method_of  # noqa: E402


def space(name: str, label: str, **options) -> dict:
    return {"name": name, "label": label, "options": options}


SPACES = {
    "nnc / exhaustive / none": space("nncodec", "nnc", qp_min=-32, qp_max=-16),
    "gq-c6 / exhaustive / none": space("nncodec", "gq-c6", gptq=256, calib_seed=6),
    "gq-c7 / exhaustive / none": space("nncodec", "gq-c7", gptq=256, calib_seed=7),
    "brevitas-gptq / exhaustive / none": space("brevitas", "brevitas-gptq", method="gptq", calib_seed=6),
    "brevitas-gpfq / exhaustive / none": space("brevitas", "brevitas-gpfq", method="gpfq", calib_seed=6),
    "mo-ub / nsga2 / neighbor": space("k", "mo-ub"),
}
METHODS = {m.config: m for m in (method_of(c, s) for c, s in SPACES.items())}
SEEDS = {c: [0, 1, 2] if c.startswith("mo-ub") else [0] for c in METHODS}
SHORT = {"nnc": "nnc / exhaustive / none", "c6": "gq-c6 / exhaustive / none",
         "c7": "gq-c7 / exhaustive / none", "gptq": "brevitas-gptq / exhaustive / none",
         "gpfq": "brevitas-gpfq / exhaustive / none", "moub": "mo-ub / nsga2 / neighbor"}
GOALS = (Goal("cifar10-", 0.01, vs_standard=1.4, vs_library=1.2),
         Goal("cifar10-r56", 0.01, cr_each_draw=20.0))


def picks(drop: float = 0.01, **cr) -> dict:
    """(config, drop) -> seed -> pick; a list gives one CR per seed."""
    return {(SHORT[k], drop): {s: {"cr_file": c, "test_drop": 0.1, "x": [s]}
                               for s, c in enumerate(v if isinstance(v, list) else [v])}
            for k, v in cr.items()}


ALL = dict(nnc=10.0, c6=16.0, c7=14.5, gptq=11.0, gpfq=12.5, moub=[15.0, 18.0, 17.0])


def test_draws_of_one_method_share_a_family_and_kinds_follow_the_space():
    got = {c: (m.family, m.kind, m.draw) for c, m in METHODS.items()}
    assert got[SHORT["c6"]] == ("gq / exhaustive / none", SUITE, "c6")
    assert got[SHORT["c7"]] == ("gq / exhaustive / none", SUITE, "c7")
    assert got[SHORT["nnc"]] == (SHORT["nnc"], STANDARD, "")
    # a library's calibration seed is not a draw suffix of its label: its own family
    assert got[SHORT["gptq"]] == (SHORT["gptq"], LIBRARY, "")
    assert got[SHORT["moub"]] == (SHORT["moub"], SUITE, "")
    # a configuration marked stale by the report is still the same draw of the same method
    assert method_of(SHORT["c6"] + " †", SPACES[SHORT["c6"]]) == METHODS[SHORT["c6"]]


def test_judged_on_the_worst_draw_over_calibration_draws_and_seeds():
    row = judge(picks(**ALL), METHODS, SEEDS, "cifar10-r20", 0.01, GOALS)
    # gq's worst draw 14.5 < mo-ub's worst seed 15.0 (its median, 17.0, is not what counts)
    assert row["method"] == SHORT["moub"] and row["decided"]
    assert [cr for _, cr, _ in row["draws"]] == [15.0, 18.0, 17.0]
    assert row["vs_standard"] == pytest.approx(1.5)
    assert row["vs_library"] == pytest.approx(15.0 / 12.5)
    assert row["library"] == SHORT["gpfq"]
    assert row["goals"] == [("x NNC >= 1.4", "met"), ("x Brevitas >= 1.2", "met")]


def test_a_draw_with_nothing_within_the_drop_counts_as_nothing_compressed():
    row = judge(picks(**{**ALL, "c7": None, "moub": [30.0, None, 30.0]}), METHODS, SEEDS,
                "cifar10-r56", 0.01, GOALS)
    assert row["vs_standard"] == 0.0
    assert dict(row["goals"]) == {"x NNC >= 1.4": "not met", "x Brevitas >= 1.2": "not met",
                                  "CR >= 20.0 each draw": "not met"}


def test_a_missing_draw_leaves_every_goal_it_needs_unjudged():
    got = picks(**{k: v for k, v in ALL.items() if k != "c7"})  # draw c7 has not finished
    row = judge(got, METHODS, SEEDS, "cifar10-r56", 0.01, GOALS)
    assert not row["decided"]
    # mo-ub's complete worst seed (15.0) already gives 1.5x / 1.2x: those two are settled
    assert dict(row["goals"]) == {
        "x NNC >= 1.4": "met (the missing suite trials could only raise it)",
        "x Brevitas >= 1.2": "met (the missing suite trials could only raise it)",
        "CR >= 20.0 each draw": "not judged (1 suite trial(s) that could change the best method missing)"}
    # a draw still to come can only lower its method's worst draw: once what has finished is
    # below another method's complete worst draw, the verdict is decided without it
    got = picks(**{**ALL, "c6": 14.0, "c7": None})
    del got[SHORT["c7"], 0.01]
    row = judge(got, METHODS, SEEDS, "cifar10-r56", 0.01, GOALS)
    assert row["decided"] and row["method"] == SHORT["moub"]
    assert dict(row["goals"])["x NNC >= 1.4"] == "met"
    # while a family is open, the complete best's worst draw is a lower bound of the final
    # one: a goal it already meets is settled, a goal it misses is not (mo-ub could lift it)
    got = picks(**{**ALL, "nnc": 12.0, "c6": 16.0, "c7": 15.5, "moub": [16.0]})  # mo-ub: 1 seed of 3
    row = judge(got, METHODS, SEEDS, "cifar10-r56", 0.01, GOALS)
    assert not row["decided"] and row["vs_standard"] is None
    open_ = "not judged (2 suite trial(s) that could change the best method missing)"
    assert dict(row["goals"]) == {
        "x NNC >= 1.4": open_,  # 15.5 / 12.0 = 1.29: mo-ub's 16.0 might still lift it
        "x Brevitas >= 1.2": "met (the missing suite trials could only raise it)",  # 15.5 / 12.5
        "CR >= 20.0 each draw": open_}
    from types import SimpleNamespace

    from suite_goals import table
    text = table(SimpleNamespace(stale=[]), [{**row, "rule": "1 SE"}])
    assert text.endswith("Goals: 1 met, 0 not met, 2 not judged, of 3.")  # a settled goal counts
    # a missing library baseline leaves its goal unjudged, never "not met"
    got = picks(**{k: v for k, v in ALL.items() if k != "gpfq"})
    goals = dict(judge(got, METHODS, SEEDS, "cifar10-r20", 0.01, GOALS)["goals"])
    assert goals == {"x NNC >= 1.4": "met",
                     "x Brevitas >= 1.2": "not judged (a library baseline has not finished)"}
    goals = dict(judge(picks(**{**ALL, "nnc": None}), METHODS, SEEDS, "cifar10-r20", 0.01, GOALS)["goals"])
    assert goals["x NNC >= 1.4"] == "not judged (the NNC standard has no member within the drop)"


def test_so_far_the_method_shown_is_one_with_finished_draws():
    # neither family is complete: mo-ub has nothing yet, gq has draw c6 (c7 still running)
    got = picks(**{k: v for k, v in ALL.items() if k not in ("c7", "moub")})
    row = judge(got, METHODS, SEEDS, "cifar10-r20", 0.01, GOALS)
    assert not row["decided"] and row["method"] == "gq / exhaustive / none"
    assert [(d, cr) for d, cr, _ in row["draws"]] == [("c6", 16.0), ("c7", None)]


def test_goals_apply_only_to_their_problems_and_drop():
    assert judge(picks(0.005, **ALL), METHODS, SEEDS, "cifar10-r20", 0.005, GOALS)["goals"] == []
    assert judge(picks(**ALL), METHODS, SEEDS, "digits-cnn", 0.01, GOALS)["goals"] == []


def selection(label: str, seed: int, drop: float, x, coding: str = "native") -> dict:
    pick = {"x": x, "cr_file": 10.0, "test_drop": 0.2}
    return {"task": "cifar10-r20", "space": {"label": label}, "seed": seed, "drop": drop,
            "coding": coding, "x": [-30.0], "margin": pick if x is not None else None}


def test_one_file_per_headline_decision_and_the_cells_that_cannot_have_one():
    row = judge({**picks(0.005, **ALL), **picks(0.01, **ALL)}, METHODS, SEEDS, "cifar10-r20", 0.01, GOALS)
    rows = [row]  # headline at 1 pt: the standard, mo-ub's three seeds, brevitas-gpfq
    sel = [selection("nnc", 0, 0.005, [-20.0]), selection("nnc", 0, 0.01, [-20.0]),
           selection("gq-c6", 0, 0.01, [-18.0]),  # not a headline cell
           selection("brevitas-gpfq", 0, 0.01, None),
           selection("mo-ub", 0, 0.01, [40.0], coding="huffman"),
           selection("mo-ub", 1, 0.01, [41.0], coding="huffman")]
    row["cells"] |= {("cifar10-r20", "nnc", 0, 0.005)}  # as if 0.5 pt were headline too
    named, unwritable, empty = plan(rows, sel, "1 SE")
    assert list(named) == ["cifar10-r20-nnc-5-10permil.wsb"]  # both drops pick qp -20
    assert named["cifar10-r20-nnc-5-10permil.wsb"][2] == [0.005, 0.01]
    assert empty == ["cifar10-r20 brevitas-gpfq 0 0.01"]
    assert [u.split(" (")[0] for u in unwritable] == [
        "cifar10-r20 mo-ub 0 0.01", "cifar10-r20 mo-ub 1 0.01", "cifar10-r20 mo-ub 2 0.01"]
    assert unwritable[-1].endswith("(no finished trial)")
    # under the plain rule the plain pick is written, not the margin's
    named, _, _ = plan(rows, sel[:2], "plain")
    assert [p["x"] for _, p, _ in named.values()] == [[-30.0]]


def test_a_record_made_by_other_code_counts_as_not_finished(monkeypatch):
    """A stale record (kept by --keep-stale, or not yet run again) must not reach a verdict."""
    from types import SimpleNamespace as NS

    from suite_goals import picks_of

    monkeypatch.setattr("wsbench.report.methods.select", lambda rec, drops, rule: [
        {"drop": 0.01, "cr_file": rec.cr, "test_drop": 0.1, "x": [-20]}])
    spaces = {c: SPACES[SHORT[c]] for c in ("nnc", "c6")}
    label = {c: s["label"] for c, s in spaces.items()}  # the config labels: nnc, gq-c6
    trials = [NS(task=NS(label="r20"), space=NS(label=label[c], as_dict=lambda c=c: spaces[c]),
                 seed=0) for c in spaces]
    done = [NS(config=label[c], record=NS(ok=True, id=f"r20__{c}", key=c, cr=cr,
                                          trial={"space": spaces[c], "seed": 0}))
            for c, cr in (("nnc", 10.0), ("c6", 16.0))]
    res = NS(exp=NS(trials=lambda: trials, drops=[0.01]), varying=["space"],
             by_task=lambda task: done, stale={"r20__c6": "wsbench.codec.gptq changed"})
    got, methods, seeds = picks_of(res, "r20", "1se")
    assert got == {("nnc", 0.01): {0: {"drop": 0.01, "cr_file": 10.0, "test_drop": 0.1, "x": [-20]}}}
    assert set(methods) == {"nnc", "gq-c6"}
    row = judge(got, methods, seeds, "cifar10-r20", 0.01, GOALS)
    assert row["goals"][0][1].startswith("not judged")
    res.stale = {}
    got, methods, seeds = picks_of(res, "r20", "1se")
    assert judge(got, methods, seeds, "cifar10-r20", 0.01, GOALS)["goals"][0][1] == "met"
