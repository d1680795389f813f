"""``wsbench run --seeds/--budget/--set``: an experiment sized from the command line."""

from __future__ import annotations

import json

import pytest

from wsbench.cli import main
from wsbench.commands import overrides
from wsbench.errors import ConfigError

EXPERIMENT = """
name = "small"
tasks = ["digits-mlp"]
spaces = [{ name = "k", k_max = 24 }]
quantizers = ["uniform"]
optimizers = [{ name = "nsga2", pop_size = 6 }, "random", "frontier"]
merges = ["none"]
seeds = 3
budget = 12
device = "cpu"
threads = 1
"""


@pytest.fixture
def toml(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(EXPERIMENT)
    return path


def dry(toml, tmp_path, capsys, *flags):
    rc = main(["run", str(toml), "--dry-run", "--out", str(tmp_path / "out"), *flags])
    return rc, capsys.readouterr()


@pytest.mark.parametrize("text,expected", [("3", 3), ("0-2", [0, 1, 2]), ("4-4", [4]),
                                           ("1,4,7", [1, 4, 7])])
def test_seeds_read_as_a_count_a_range_or_a_list(text, expected):
    assert overrides.parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["x", "3-1", "1-x", ""])
def test_bad_seeds_are_one_clear_error(text):
    with pytest.raises(ConfigError, match="--seeds: expected"):
        overrides.parse_seeds(text)


def test_overrides_change_the_trials_and_their_keys(toml, tmp_path, capsys):
    _, full = dry(toml, tmp_path, capsys)
    rc, small = dry(toml, tmp_path, capsys, "--seeds", "0-1", "--budget", "8",
                    "--set", "optimizer.pop_size=4")
    assert rc == 0
    assert full.out.splitlines()[-1].startswith("9 trials")  # 3 optimizers x 3 seeds
    assert small.out.splitlines()[-1].startswith("6 trials")
    keys = lambda out: {line.split()[1] for line in out.splitlines() if line.startswith("todo")}
    # nsga2's pop_size and every trial's budget changed: no key is shared with the file's run
    assert not keys(full.out) & keys(small.out)


def test_a_run_with_overrides_records_them(toml, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(toml), "--out", str(out), "--no-progress", "--seeds", "1",
                 "--budget", "5", "--set", "optimizer.nsga2.pop_size=4"]) == 0
    meta = json.loads((out / "experiment.json").read_text())
    assert meta["seeds"] == [0] and meta["budget"] == 5
    nsga2 = next(o for o in meta["optimizers"] if o["name"] == "nsga2")
    assert nsga2["options"]["pop_size"] == 4 if "options" in nsga2 else nsga2["pop_size"] == 4
    assert "--set optimizer.nsga2.pop_size=4" in (out / "experiment.toml").read_text()


@pytest.mark.parametrize("flag,message", [
    ("optimizer.pop_size=abc", "option pop_size of optimizer 'nsga2' takes an integer (default 100), got 'abc'"),
    ("optimizer.frontier.n_init=1.5", "option n_init of optimizer 'frontier' takes an integer"),
    ("optimizer.pop_sise=10", "no optimizer of this experiment takes option 'pop_sise'; did you mean 'pop_size'"),
    ("optimizer.nsga.pop_size=4", "the experiment has no optimizer 'nsga'; did you mean 'nsga2'?"),
    ("optimizer.random.pop_size=4", "optimizer 'random' has no option 'pop_size'"),
    ("budget=-3", "budget: must be at least 1"),
    ("pop_size", "expected KEY=VALUE"),
])
def test_bad_overrides_are_one_line_with_a_suggestion(toml, tmp_path, capsys, flag, message):
    rc, out = dry(toml, tmp_path, capsys, "--set", flag)
    assert rc == 2
    assert message in out.err
    assert out.err.count("\n") == 1 and "Traceback" not in out.err


def test_an_unknown_plugin_in_a_file_is_answered_with_the_closest_names(toml, tmp_path, capsys):
    toml.write_text(EXPERIMENT.replace('"random"', '"randm"'))
    rc, out = dry(toml, tmp_path, capsys)
    assert rc == 2 and out.err.count("\n") == 1
    assert "unknown optimizer 'randm'" in out.err and out.err.rstrip().endswith("did you mean 'random'?")


def test_only_picks_trials_by_glob_or_by_part_of_their_id(toml, tmp_path, capsys):
    # a glob matches anywhere in the id: no leading '*' is needed before the task's name
    rc, out = dry(toml, tmp_path, capsys, "--only", "__rand*__", "--only", "frontier")
    listed = [line.split()[1] for line in out.out.splitlines() if line.startswith("todo")]
    assert rc == 0 and len(listed) == 6  # 2 optimizers x 3 seeds, nsga2 left out
    assert all("__random__" in i or "__frontier__" in i for i in listed)
    assert out.out.splitlines()[-1].startswith("6 trials")


def test_a_run_with_only_writes_those_trials_and_the_whole_experiment(toml, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(toml), "--out", str(out), "--no-progress", "--seeds", "1",
                 "--budget", "5", "--only", "random"]) == 0
    written = [json.loads(p.read_text())["id"] for p in (out / "trials").glob("*.json")]
    assert len(written) == 1 and "__random__" in written[0]
    meta = json.loads((out / "experiment.json").read_text())
    assert {o["name"] for o in meta["optimizers"]} == {"nsga2", "random", "frontier"}
    capsys.readouterr()
    # the rest is still to do, and a second run without --only finds the first one's trial done
    assert main(["run", str(toml), "--out", str(out), "--dry-run", "--seeds", "1",
                 "--budget", "5"]) == 0
    states = [line.split()[0] for line in capsys.readouterr().out.splitlines()[:-1]]
    assert sorted(states) == ["done", "todo", "todo"]


def test_only_matching_nothing_is_one_clear_error(toml, tmp_path, capsys):
    rc, out = dry(toml, tmp_path, capsys, "--only", "resnet56")
    assert rc == 2 and out.err.count("\n") == 1 and "Traceback" not in out.err
    assert "--only resnet56: matches none of the 9 trial ids" in out.err
