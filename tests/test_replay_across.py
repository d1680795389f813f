"""benchmarks/replay_across.py: replays aggregated over landscapes, checked by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import replay_across  # noqa: E402


def dump(tmp_path):
    runs = {  # landscape -> optimizer -> (curves of HV / exact per evaluation, spent per run)
        "A": {"a": ([[0.5, 1.0], [0.9, 0.995]], [2, 2]), "b": ([[0.2, 0.3], [0.4, 0.5]], [2, 2])},
        "B": {"a": ([[1.0], [1.0]], [1, 1]), "b": ([[0.5, 0.99, 1.0], [0.9, 0.9, 0.9]], [3, 3])},
    }
    replays = [{"task": t, "points": 10, "optimizer": {"name": o}, "label": o, "curves": c,
                "runs": [[0.0, 0.0, 0.0, s] for s in spent]}
               for t, opts in runs.items() for o, (c, spent) in opts.items()]
    path = tmp_path / "replays.json"
    path.write_text(json.dumps({"budget": 3, "seeds": 2, "targets": [], "replays": replays}))
    return path


def test_leaderboard_and_expected_running_times_by_hand(tmp_path, capsys):
    assert replay_across.main([str(dump(tmp_path)), "--figure", str(tmp_path / "ecdf")]) == 0
    out = capsys.readouterr().out
    # a has the higher median final HV on both landscapes: rank 1 on each, b rank 2
    assert "| a | 1 | 1 | 1.00 |" in out and "| b | 2 | 2 | 2.00 |" in out
    # ERT to 100%: on A, a's seed 0 needs 2 and seed 1 never gets there (spent 2): (2 + 2) / 1;
    # b never does; on B, a needs 1 and 1: 2 / 2; b: 3, and 3 spent by the failure: 6 / 1
    assert "| a | 100.0% | 4 | 1 |" in out and "| b | 100.0% | inf | 6 |" in out
    # to 99.5%: a reaches it at 2 in both seeds on A (0.995 counts), at 1 on B
    assert "| a | 99.5% | 2 | 1 |" in out
    assert (tmp_path / "ecdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replays_without_curves_are_one_error_line(tmp_path, capsys):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"budget": 3, "seeds": 1, "replays": [
        {"task": "A", "optimizer": {"name": "a"}, "runs": [[1, 1, 1, 1]]}]}))
    assert replay_across.main([str(path)]) == 2
    assert "rerun replay_landscapes.py --json" in capsys.readouterr().err


def test_the_ecdf_at_the_budget_by_hand(tmp_path):
    lands = replay_across.by_landscape(json.loads(dump(tmp_path).read_text()))
    got = replay_across.ecdf_at(lands, 3)
    # 20 targets, 1 - geomspace(0.5, 1e-3, 19) and 1.0; 14 of them are <= 0.995, 5 <= 0.9.
    # a: on A one seed reaches all 20, the other (0.995) 14; on B both reach all: (0.85 + 1) / 2
    # b: on A only 0.5 is reached, by one seed; on B one seed all, the other (0.9) 5 of 20
    assert got == {"a": pytest.approx((20 / 20 + 14 / 20) / 4 + 1 / 2),
                   "b": pytest.approx((0 + 1 / 20) / 4 + (20 / 20 + 5 / 20) / 4)}
