"""Outputs that would destroy files, and late errors, are refused in one line before any work."""

from __future__ import annotations

import os

import pytest

from wsbench.cli import main


def error_of(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wsbench: error:") and "Traceback" not in err
    return err


@pytest.fixture
def wsb(tmp_path):
    """Some input file (the output checks come before it is read)."""
    path = tmp_path / "model.pt"
    path.write_bytes(b"not even a compressed file")
    return path


def test_decompress_never_writes_over_its_input(capsys, wsb):
    before = wsb.read_bytes()
    assert "is the input file" in error_of(capsys, ["decompress", str(wsb)])  # default: FILE.pt
    assert "is the input file" in error_of(capsys, ["decompress", str(wsb), "-o", str(wsb)])
    assert wsb.read_bytes() == before


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_decompress_never_replaces_a_device(capsys, wsb):
    assert "not a regular file" in error_of(capsys, ["decompress", str(wsb), "-o", "/dev/full"])
    assert not os.path.isfile("/dev/full")


@pytest.mark.parametrize("output,words", [("", ". is a folder"), ("{tmp}", "is a folder"),
                                          ("{tmp}/no/such/x.pt", "does not exist")])
def test_decompress_refuses_paths_it_cannot_write(capsys, wsb, tmp_path, output, words):
    assert words in error_of(capsys, ["decompress", str(wsb), "-o", output.format(tmp=tmp_path)])


def test_report_and_train_refuse_a_file_as_their_folder(capsys, tmp_path, wsb):
    assert "exists and is not a folder" in error_of(capsys, ["report", str(tmp_path), "--out", str(wsb)])
    assert "exists and is not a folder" in error_of(
        capsys, ["train", "--task", "digits-mlp", "--epochs", "1", "--out", str(wsb)])


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs sysfs, which refuses new files")
def test_a_folder_that_cannot_be_written_is_one_line(capsys, tmp_path):
    """An OSError from the disk (read-only here: sysfs refuses even root) names the path in
    one line, exit 2; nothing is left behind."""
    import torch

    import wsbench

    path = wsbench.compress_model(torch.nn.Linear(4, 4), k=4).save(tmp_path / "t.wsb")
    err = error_of(capsys, ["decompress", str(path), "-o", "/sys/wsbench-test.pt"])
    assert "/sys/" in err and not os.path.exists("/sys/wsbench-test.pt")


@pytest.mark.parametrize("argv,words", [
    (["--coding", "native", "--merge", "none"], "space 'k' is not a codec"),
    (["--max-requested", "3", "--budget", "6"], "max_requested (3) must be at least the budget (6)"),
    (["--set", "optimizer.pop_size=" + "[" * 30000 + "]" * 30000], "nested too deeply"),
])
def test_compress_refuses_before_the_search(capsys, tmp_path, argv, words):
    assert words in error_of(capsys, ["compress", *argv, "--out", str(tmp_path)])
    assert not list(tmp_path.iterdir())
