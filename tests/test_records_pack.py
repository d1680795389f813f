"""benchmarks/records.py: a results folder's records packed into the repository and restored."""

from __future__ import annotations

import importlib.util
import io
import lzma
import os
import sys
import tarfile
from pathlib import Path

import pytest

from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results") / "tiny"
    exp = parse_experiment({"name": "tiny", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 12}],
                            "optimizers": ["random", "exhaustive"], "merges": ["none"], "seeds": [0],
                            "budget": 5, "max_requested": 100, "threads": 1, "device": "cpu"},
                           source="tiny.toml")
    run_experiment(exp, out, progress=False, log=lambda m: None)
    for junk in ("locks/x.lock", "stale/old.json", "trials/.half.json.tmp-1", "tracebacks/t.txt",
                 "landscapes/t.npz.part", "trials/.d/y.json"):
        (out / junk).parent.mkdir(exist_ok=True)
        (out / junk).write_text("not packed")
    return out


def test_a_pack_restores_the_records_and_the_report_reads_them_alike(folder, tmp_path):
    rec, rs = _load("records"), _load("results")
    archive, written = rec.pack(folder, tmp_path / "tiny.tar.xz")
    assert written
    # the same records copied in another order, with other times: the same bytes
    copy = tmp_path / "copy" / "tiny"
    for rel in reversed(rec.members(folder)):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((folder / rel).read_bytes())
        os.utime(copy / rel, (1e9, 1e9))
    again, _ = rec.pack(copy, tmp_path / "again.tar.xz")
    assert archive.read_bytes() == again.read_bytes()
    into = tmp_path / "restored" / "tiny"
    assert rec.unpack(archive, into) == len(rec.members(folder))
    kept = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())
    assert kept == sorted(p.as_posix() for p in rec.members(folder))
    assert len([k for k in kept if k.startswith("trials/")]) == 2
    assert not any(k.startswith(("locks/", "stale/", "tracebacks/")) or "/." in k
                   or k.endswith(".part") for k in kept)
    for k in kept:
        assert (into / k).read_bytes() == (folder / k).read_bytes()
    from wsbench.report.data import load_results

    block = rs.Block("t", "tiny.toml", "search-{task}", "digits")
    assert (rs.render(block, {"tiny.toml": load_results(into)})
            == rs.render(block, {"tiny.toml": load_results(folder)}))
    assert not load_results(into).stale  # restored records are this code's, so not rerun


def test_unpacking_never_replaces_a_file_that_is_there(folder, tmp_path):
    rec = _load("records")
    archive, _ = rec.pack(folder, tmp_path / "tiny.tar.xz")
    into = tmp_path / "tiny"
    rec.unpack(archive, into)
    trial = next((into / "trials").glob("*.json"))
    trial.write_text('{"newer": true}')
    (into / "run.json").unlink()
    assert rec.unpack(archive, into) == 1  # only the missing run.json
    assert trial.read_text() == '{"newer": true}'


def test_a_pack_of_unchanged_records_is_not_rewritten_and_a_busy_folder_is_not_packed(folder, tmp_path):
    rec = _load("records")
    from wsbench.experiments.locking import take

    archive, _ = rec.pack(folder, tmp_path / "tiny.tar.xz")
    before = archive.read_bytes()
    (folder / "runs" / "later-run.json").write_text("{}")  # a rerun that found all done
    assert rec.pack(folder, archive) == (archive, False) and archive.read_bytes() == before
    with take(folder / "locks" / "k.lock"):
        with pytest.raises(rec.PackError, match="being written"):
            rec.pack(folder, archive)
        assert rec.pack(folder, tmp_path / "snapshot.tar.xz", running=True)[1]
    (folder / "runs" / "later-run.json").unlink()


def _tar_xz(*names: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    return lzma.compress(buf.getvalue())


@pytest.mark.parametrize("name", ["../evil.json", "/abs/trials/x.json", "notes.txt", "trials"])
def test_a_pack_with_a_path_no_results_folder_has_is_refused_whole(tmp_path, name):
    rec = _load("records")
    archive = tmp_path / "bad.tar.xz"
    archive.write_bytes(_tar_xz("experiment.json", "trials/a.json", name))  # the bad one last
    with pytest.raises(rec.PackError, match="no results folder has"):
        rec.unpack(archive, tmp_path / "into")
    assert not (tmp_path / "into").exists() and not (tmp_path / "evil.json").exists()


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, capsys):
    rec = _load("records")
    corrupt = tmp_path / "x.tar.xz"
    corrupt.write_bytes(b"\xfd7zXZ\x00 truncated")
    assert rec.main(["unpack", str(corrupt), "--into", str(tmp_path / "x")]) == 1
    assert rec.main(["pack", str(tmp_path)]) == 1  # not a results folder
    assert rec.main(["unpack", str(tmp_path / "absent.tar.xz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("records.py: ") for line in err)
    assert "not a readable records pack" in err[0] and "no experiment.json" in err[1]


def test_a_clean_clone_checks_its_tables_against_the_committed_records(tmp_path, monkeypatch, capsys):
    rs, rec = _load("results"), _load("records")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "tiny.toml").write_text(
        'name = "tiny"\ntasks = ["digits-mlp"]\nspaces = [{ name = "k", k_max = 10 }]\n'
        'optimizers = ["exhaustive"]\nmerges = ["none"]\nseeds = 1\nbudget = 4\nthreads = 1\ndevice = "cpu"\n')
    monkeypatch.setattr(rs, "ROOT", tmp_path)
    monkeypatch.setattr(rs, "BLOCKS", (rs.Block("t", "tiny.toml", "search-{task}", "digits"),))
    md = tmp_path / "RESULTS.md"
    md.write_text("<!-- wsbench:table t -->\nold\n<!-- /wsbench:table -->\n")
    assert rs.main(["--no-progress", "--results-md", str(md)]) == 0  # runs, writes, packs
    archive = tmp_path / "benchmarks" / "records" / "tiny.tar.xz"
    assert archive.is_file() and "packed tiny" in capsys.readouterr().out
    import shutil

    shutil.rmtree(tmp_path / "results")  # the clone: RESULTS.md and the pack, no results/
    assert rs.main(["--check", "--results-md", str(md)]) == 0
    assert "1 of 1 tables reproduce" in capsys.readouterr().out
    assert len(list((tmp_path / "results" / "tiny" / "trials").glob("*.json"))) == 1
    md.write_text(md.read_text().replace("| exhaustive |", "| edited |"))
    assert rs.main(["--check", "--results-md", str(md)]) == 1  # the check still compares
    assert rec.unpack(archive, tmp_path / "results" / "tiny") == 0
