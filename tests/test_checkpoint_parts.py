"""Checkpoints stored as numbered parts beside their sha256 (as the GPU-trained ResNet-18 is)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import torch

from wsbench import plugins
from wsbench.errors import ModelError
from wsbench.tasks.checkpoint import checkpoint_exists, part_paths, read_checkpoint, write_parts


def _saved(path: Path, state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    path.write_bytes(buf.getvalue())
    path.with_suffix(".sha256").write_text(
        f"{hashlib.sha256(buf.getvalue()).hexdigest()}  {path.name}\n")
    return buf.getvalue()


def test_parts_join_to_the_file_and_load_without_it(tmp_path):
    state = {"w": torch.arange(5000, dtype=torch.float32), "b": torch.ones(3)}
    blob = _saved(tmp_path / "m.pt", state)
    out = tmp_path / "out"
    parts = write_parts(tmp_path / "m.pt", 4096, out)
    assert [p.name for p in parts] == [f"m.pt.part{i:03d}" for i in range(len(parts))]
    assert len(parts) == -(-len(blob) // 4096) > 1
    assert all(p.stat().st_size <= 4096 for p in parts)
    assert b"".join(p.read_bytes() for p in parts) == blob
    (out / "m.sha256").write_bytes((tmp_path / "m.sha256").read_bytes())
    assert not (out / "m.pt").exists() and checkpoint_exists(out / "m.pt")
    loaded = read_checkpoint(out / "m.pt")
    assert torch.equal(loaded["w"], state["w"]) and torch.equal(loaded["b"], state["b"])


def test_a_shorter_split_removes_stale_parts(tmp_path):
    _saved(tmp_path / "m.pt", {"w": torch.zeros(4000)})
    assert len(write_parts(tmp_path / "m.pt", 2000)) > 3
    assert len(write_parts(tmp_path / "m.pt", 1 << 20)) == 1
    assert [p.name for p in part_paths(tmp_path / "m.pt")] == ["m.pt.part000"]


def _split_only(tmp_path: Path) -> Path:
    _saved(tmp_path / "m.pt", {"w": torch.zeros(4000)})
    write_parts(tmp_path / "m.pt", 3000)
    (tmp_path / "m.pt").unlink()
    return tmp_path / "m.pt"


def test_a_corrupt_or_missing_part_is_refused(tmp_path):
    path = _split_only(tmp_path)
    last = part_paths(path)[-1]
    last.write_bytes(last.read_bytes()[:-1])  # truncated
    with pytest.raises(ModelError, match="does not match its sha256"):
        read_checkpoint(path)
    part_paths(path)[1].unlink()  # a gap in the numbering
    with pytest.raises(ModelError, match="not numbered"):
        read_checkpoint(path)


def test_parts_need_their_sha256(tmp_path):
    path = _split_only(tmp_path)
    path.with_suffix(".sha256").unlink()
    with pytest.raises(ModelError, match="no m.sha256"):
        read_checkpoint(path)


def test_the_task_finds_its_checkpoint_as_parts(tmp_path, monkeypatch):
    """A task looks for NAME.pt or its parts where checkpoints live (here: the user cache)."""
    from test_cifar_task import _fake_cifar
    from wsbench_plugins.cifar.models import build_model

    monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    model = build_model("resnet18", 10)
    _saved(folder / "cifar10-resnet18.pt", model.state_dict())
    write_parts(folder / "cifar10-resnet18.pt", 15 << 20)
    (folder / "cifar10-resnet18.pt").unlink()
    data = _fake_cifar(tmp_path / "cifar", per_class=10)
    task = plugins.create("task", "cifar10-resnet18", data=str(data))
    assert task.checkpoint_path() == folder / "cifar10-resnet18.pt"
    loaded = task.load(progress=False).model
    assert torch.equal(loaded.state_dict()["fc.weight"], model.state_dict()["fc.weight"])
