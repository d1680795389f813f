"""`wsbench train` is generic: it calls the task's own train() with the flags the user gave."""

from __future__ import annotations

import json

import pytest

from wsbench import plugins
from wsbench.cli import main
from wsbench.hookspecs import hookimpl


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("wsbench: error:") and "Traceback" not in err
    return err


def test_digits_trains_through_its_own_train_with_the_flags_given(capsys, tmp_path):
    assert main(["train", "--task", "digits-cnn", "--seed", "1", "--epochs", "2", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    facts = json.loads((tmp_path / "digits-cnn.json").read_text())
    assert (facts["seed"], facts["epochs"]) == (1, 2)
    assert out == f"digits-cnn: wrote {tmp_path / 'digits-cnn.pt'} (sha256 {facts['sha256'][:16]})\n"
    assert "shipped" not in out  # not the default configuration: nothing to compare with


@pytest.mark.parametrize("flags, named", [
    (["--lr", "0.05"], "--lr"),
    (["--threads", "1", "--resume", "--device", "cpu"], "--threads, --resume, --device"),
    (["--train-limit", "10"], "--train-limit"),
])
def test_an_option_the_task_does_not_take_is_one_line_naming_it(capsys, tmp_path, flags, named):
    err = _error(capsys, ["train", "--task", "digits-cnn", *flags, "--out", str(tmp_path)])
    assert f"task 'digits-cnn' does not take {named}" in err
    assert not list(tmp_path.iterdir())  # refused before any work


class _Untrainable:
    name, description = "untrainable", "a task without train()"

    def load(self, *, progress: bool = True):
        raise AssertionError("never loaded by `wsbench train`")


class _UntrainablePlugin:
    @hookimpl
    def wsbench_register_tasks(self, register):
        register("test-untrainable", _Untrainable, "Test plugin: a task without train().")


def test_a_task_without_train_is_refused_in_one_line(capsys, tmp_path):
    plugins.register(_UntrainablePlugin(), name="test-untrainable-plugin")
    try:
        err = _error(capsys, ["train", "--task", "test-untrainable", "--out", str(tmp_path)])
    finally:
        plugins.unregister(name="test-untrainable-plugin")
    assert "task 'test-untrainable' cannot be trained with `wsbench train`: it has no train()" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("epochs", ["0", "50000"])
def test_train_holds_its_options_to_the_tasks_ranges(tmp_path, capsys, epochs):
    """--epochs reaches the task through the registry, so the task's declared range applies:
    zero epochs would write an untrained model, 50,000 take days (the flag itself allows both)."""
    assert main(["train", "--task", "digits-cnn", "--epochs", epochs, "--no-progress",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "epochs" in err and "[1, 10000]" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())
