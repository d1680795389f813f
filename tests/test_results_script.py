"""benchmarks/results.py: RESULTS.md's tables are rewritten from results, and checked against them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "results.py"


def _script():
    spec = importlib.util.spec_from_file_location("results_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_blocks_are_rewritten_from_results_and_checked_without_provenance(tmp_path):
    from wsbench.report.data import load_results

    rs = _script()
    exp = parse_experiment({"name": "tiny", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 12}],
                            "optimizers": ["random", "exhaustive"], "merges": ["none"], "seeds": [0, 1],
                            "budget": 6, "max_requested": 100, "threads": 1, "device": "cpu"},
                           source="tiny.toml")
    run_experiment(exp, tmp_path, progress=False, log=lambda m: None)
    loaded = {"tiny.toml": load_results(tmp_path)}
    block = rs.Block("t-search", "tiny.toml", "search-{task}", "digits")
    table = rs.render(block, loaded)
    assert "| configuration | HV |" in table and "search time" not in table  # timings dropped
    assert table.count("\n| random |") == 1 and table.count("\n| exhaustive |") == 1
    text = "intro\n<!-- wsbench:table t-search -->\nold table\n<!-- /wsbench:table -->\nafter\n"
    new, changed = rs.rewrite(text, {"t-search": table}, {"t-search": "<sub>machine A</sub>"})
    assert changed == ["t-search"]
    assert new.startswith("intro\n") and new.endswith("after\n") and table in new
    # the same table from another machine: only the provenance line differs, and it is not compared
    again, changed = rs.rewrite(new, {"t-search": table}, {"t-search": "<sub>machine B</sub>"})
    assert changed == [] and "machine B" in again and "machine A" not in again
    other = table.replace("| random |", "| random2 |")
    assert rs.rewrite(again, {"t-search": other}, {"t-search": ""})[1] == ["t-search"]


def test_every_block_names_an_experiment_file_that_exists():
    rs = _script()
    for block in rs.BLOCKS:
        assert (SCRIPT.parent / block.experiment).exists(), block
    assert {b.name for b in rs.selected(["digits"])} < {b.name for b in rs.BLOCKS}


def test_compare_records_ignores_timings_and_finds_a_changed_objective(tmp_path):
    import json

    spec = importlib.util.spec_from_file_location("compare_records", SCRIPT.parent / "compare_records.py")
    cr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cr)
    base = {"name": "cmp", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 12}],
            "optimizers": ["random"], "merges": ["none"], "seeds": [0], "budget": 6,
            "max_requested": 100, "threads": 1, "device": "cpu", "exact": {"enabled": False}}
    for name in ("a", "b"):
        run_experiment(parse_experiment(base, source="cmp.toml"), tmp_path / name, progress=False,
                       log=lambda m: None)
    assert cr.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0  # timings differ, nothing else
    path = next((tmp_path / "b" / "trials").glob("*.json"))
    rec = json.loads(path.read_text())
    rec["archive"]["f"][0][0] += 1e-12
    path.write_text(json.dumps(rec))
    same, differ, alone = cr.compare(tmp_path / "a", tmp_path / "b")
    assert differ == [f"trials/{path.name}"] and not same and not alone


def test_a_check_without_the_results_folder_says_so_instead_of_failing(tmp_path, monkeypatch, capsys):
    import shutil

    rs = _script()
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(SCRIPT.parent / "quick.toml", tmp_path / "benchmarks")
    monkeypatch.setattr(rs, "ROOT", tmp_path)  # a clone where nothing has been run
    (tmp_path / "RESULTS.md").write_text("<!-- wsbench:table quick-search -->\nx\n<!-- /wsbench:table -->\n")
    assert rs.main(["--check", "--only", "quick-search", "--results-md", str(tmp_path / "RESULTS.md")]) == 1
    out = capsys.readouterr()
    assert "skipped: quick-search (no results/quick here" in out.out
    assert "no results folder" in out.err and "Traceback" not in out.err


def test_workers_run_each_experiment_in_a_process_pool(monkeypatch):
    """--workers N: every experiment through a pool of N processes, as `wsbench run --executor
    process --workers N`; without it, the runner's own default."""
    import wsbench.experiments.runner as runner

    rs, seen = _script(), []
    monkeypatch.setattr(runner, "run_experiment", lambda exp, out, **kw: seen.append(
        kw["executor"]) or SimpleNamespace(ran=0, already_done=0, failed=[]))
    blocks = [b for b in rs.BLOCKS if b.name == "quick-search"]
    rs.run_experiments(blocks, progress=False, workers=2)
    rs.run_experiments(blocks, progress=False)
    assert seen[1] is None and seen[0].name == "process" and seen[0].workers == 2


def test_a_dropped_timing_column_takes_its_caption_sentence_with_it():
    from wsbench.report.model import Cell, Table

    rs = _script()
    table = Table("m", "Methods, medians over seeds. s / decision: seconds one decision took "
                  "(calibration, rounding), median over seeds. Bold: best.",
                  ["method", "CR", "s / decision"], [[Cell("a"), Cell("2.00"), Cell("41.5")]])
    out = rs._columns(table, rs.Block("m", "x.toml", "m", "x"))
    assert out.columns == ["method", "CR"] and [c.text for c in out.rows[0]] == ["a", "2.00"]
    assert "seconds one decision took" not in out.caption and "Bold: best." in out.caption
    assert out.caption.endswith("are in `wsbench report`.")
    kept = rs._columns(table, rs.Block("m", "x.toml", "m", "x", keep=("method", "s / decision")))
    assert kept.caption == table.caption and kept.columns == ["method", "s / decision"]


def test_a_table_mixed_from_two_machines_names_both_with_their_counts():
    rs = _script()
    amd = {"cpu_model": "AMD EPYC", "cpu_flags": ["avx2", "fma"], "numeric_env": {}}
    intel = {"cpu_model": "Intel Xeon", "cpu_flags": ["avx2", "avx512f"],
             "numeric_env": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}
    rec = lambda m: SimpleNamespace(provenance={"machine": m})  # noqa: E731
    last_run = {"cpu_model": "Intel Xeon", "cpu_flags": ["avx2"]}
    # one machine: named as before, from the records rather than the last run
    assert rs.machines_of([rec(amd), rec(amd)], last_run) == "AMD EPYC (avx2 fma)"
    mixed = rs.machines_of([rec(amd), rec(intel), rec(amd)], last_run)
    assert mixed == ("AMD EPYC (avx2 fma) (2 records), "
                     "Intel Xeon (avx2 avx512f) with ONEDNN_MAX_CPU_ISA=AVX2 (1 records)")
    # records without a machine (older formats): the last run's, as before
    assert rs.machines_of([SimpleNamespace(provenance={})], last_run) == "Intel Xeon (avx2)"
