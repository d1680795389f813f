"""Spaces without an exact front: the report's best-known front (COCO's reference for open
problems) and ``wsbench run --exact-only`` (a landscape tabulated without running trials)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment

# two spaces (decisions of 3 and of 1 variable) trade the same objectives: one best-known front
LAYERWISE = {"name": "open", "tasks": ["digits-mlp"],
             "spaces": [{"name": "layerwise-k", "k_max": 32}, {"name": "k", "k_max": 64}],
             "optimizers": [{"name": "nsga2", "pop_size": 4}, "random"], "merges": ["none"],
             "seeds": [0, 1], "budget": 8, "max_requested": 100, "threads": 1, "device": "cpu",
             "exact": {"enabled": False}}


@pytest.fixture(scope="module")
def open_report(tmp_path_factory):
    from wsbench.cli import main

    out = tmp_path_factory.mktemp("open") / "results"
    run_experiment(parse_experiment(LAYERWISE, source="open.toml"), out, progress=False, log=lambda m: None)
    assert main(["report", str(out)]) == 0
    return out


def _dominated(f, others) -> bool:
    return any(o[0] <= f[0] and o[1] <= f[1] and (o[0] < f[0] or o[1] < f[1]) for o in others)


def test_the_best_known_front_is_the_non_dominated_union_of_every_trial(open_report):
    import json

    from wsbench.report.data import load_results

    res = load_results(open_report)
    assert len(res.trials) == 8
    union = {(t.trial.space.name, *x): tuple(f) for t in res.trials
             for x, f, cached in zip(t.record.archive.x, t.record.archive.f, t.record.archive.cached)
             if not cached}
    expected = sorted((tuple(float(v) for v in key[1:]), f) for key, f in union.items()
                      if not _dominated(f, list(union.values())))
    (path,) = (open_report / "best-known").glob("*.csv")
    rows = list(csv.DictReader(path.read_text().splitlines()))
    got = sorted((tuple(float(r[f"x{j}"]) for j in range(3) if r[f"x{j}"]), (float(r["f1"]), float(r["f2"])))
                 for r in rows)
    assert got == expected  # each decision once, both spaces in one front
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["distinct_decisions"] == len(union) and len(meta["trials"]) == 8
    assert meta["spaces"] == sorted({t.trial.space.label for t in res.trials})


def test_trials_are_scored_against_it_and_the_titles_say_so(open_report):
    from pymoo.indicators.hv import HV

    from wsbench.report.data import load_results

    res = load_results(open_report)
    front = next(iter(res.exact.values())).front_f
    ref = res.reference["digits-mlp"]
    hv_best = HV(ref_point=np.asarray(ref.ref_point))(ref.normalise(np.asarray(front)))
    assert len({id(e) for e in res.exact.values()}) == 1  # every configuration, one reference
    for t in res.trials:
        assert t.indicators["hv_ratio"] == pytest.approx(t.indicators["hv"] / hv_best)
        assert t.indicators["hv_ratio"] <= 1 + 1e-12  # no trial beats the union it is part of
    md = (open_report / "report.md").read_text()
    assert "HV / best-known" in md and "evals to 99% best-known HV" in md
    assert "HV / exact" not in md and "exact front's hypervolume" not in md


def test_exact_only_tabulates_the_landscape_and_runs_no_trial(tmp_path, capsys):
    from wsbench.cli import main

    toml = tmp_path / "land.toml"
    toml.write_text('name = "land"\ntasks = ["digits-mlp"]\nspaces = [{ name = "k", k_max = 12 }]\n'
                    'optimizers = ["random"]\nseeds = 2\nbudget = 4\nthreads = 1\ndevice = "cpu"\n')
    out = tmp_path / "res"
    assert main(["run", str(toml), "--exact-only", "--no-progress", "--out", str(out)]) == 0
    assert "exact fronts only: 11 unique evaluations" in capsys.readouterr().out
    assert len(list((out / "exact").glob("*.json"))) == 1
    assert not list((out / "trials").glob("*.json"))
    # the report of a landscape alone names its size and front
    from wsbench.experiments.records import ExactRecord
    from wsbench.experiments.store import read_json

    (path,) = (out / "exact").glob("*.json")
    front = ExactRecord.from_dict(read_json(path)).front_f
    assert main(["report", str(out), "--format", "markdown"]) == 0
    row = next(line for line in (out / "report.md").read_text().splitlines()
               if line.startswith("| digits-mlp"))
    assert f"{len(front)} front points of 11, HV" in row
    # a file that disables exact fronts has nothing to tabulate: one line, exit 2
    toml.write_text(toml.read_text() + "[exact]\nenabled = false\n")
    assert main(["run", str(toml), "--exact-only", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "disables them" in err and len(err.strip().splitlines()) == 1


def test_exact_only_on_a_space_too_large_to_enumerate_is_one_error_line(tmp_path, capsys):
    from wsbench.cli import main

    toml = tmp_path / "big.toml"
    toml.write_text('name = "big"\ntasks = ["digits-mlp"]\nspaces = ["layerwise-k"]\noptimizers = ["random"]\n'
                    'seeds = 1\nbudget = 4\nthreads = 1\ndevice = "cpu"\n[exact]\nmax_points = 100\n')
    assert main(["run", str(toml), "--exact-only", "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wsbench: error: 1 exact front(s) missing: digits-mlp/layerwise-k")
