"""Without a terminal, a run's progress is one plain line per finished trial, no escape codes."""

from __future__ import annotations

import io
import re

from wsbench.cli import main
from wsbench.experiments.plain_progress import PlainProgress, interactive

EXPERIMENT = """
name = "plain"
tasks = ["digits-mlp"]
spaces = [{ name = "k", k_max = 12 }]
optimizers = ["random", "exhaustive"]
merges = ["none"]
seeds = [0]
budget = 5
device = "cpu"
threads = 1
"""


def test_a_run_into_a_log_prints_lines_not_bars(tmp_path, capsys):
    toml = tmp_path / "plain.toml"
    toml.write_text(EXPERIMENT)
    assert main(["run", str(toml), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert not re.search(r"[\r\x1b]", err)  # no carriage returns, no cursor moves
    lines = re.findall(r"^plain: (\d)/2 trials done \(\dm\d\ds\)$", err, re.M)
    assert lines == ["1", "2"]


def test_plain_progress_counts_from_what_was_already_done():
    out = io.StringIO()
    assert not interactive(out)
    with PlainProgress(5, initial=2, desc="exp", stream=out) as bar:
        bar.update()
    assert out.getvalue().splitlines()[0].startswith("exp: 2/5 trials already done")
    assert out.getvalue().splitlines()[1].startswith("exp: 3/5 trials done")


def test_compress_into_a_log_draws_no_bars(tmp_path, capsys):
    assert main(["compress", "--task", "digits-mlp", "--budget", "8", "--merge", "none",
                 "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "no progress bars: the output is not a terminal" in out
    assert not re.search(r"[\r\x1b]", err + out)
