"""CIFAR tasks: paper splits over any CIFAR source, safe checkpoint loading, and the shipped model."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.errors import ConfigError, ModelError

SHARED_TAR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.tar.xz"


def _fake_cifar(root: Path, per_class: int = 20, classes: int = 10) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", per_class // 2)):
        for c in range(classes):
            folder = root / split / f"class{c:02d}"
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def _checkpoint(path: Path, num_classes: int = 10) -> Path:
    from wsbench_plugins.cifar.models import resnet20

    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(resnet20(num_classes).state_dict(), buf)
    path.write_bytes(buf.getvalue())
    return path


def test_paper_splits_on_a_user_folder(tmp_path):
    data = _fake_cifar(tmp_path / "cifar")
    ckpt = _checkpoint(tmp_path / "r20.pt")
    task = plugins.create("task", "cifar10-resnet20", data=str(data), checkpoint=str(ckpt))
    d = task.load(progress=False)
    assert d.val_x.shape == (20, 3, 32, 32) and d.test_x.shape == (100, 3, 32, 32)
    assert np.bincount(d.val_y.numpy(), minlength=10).tolist() == [2] * 10  # 10% per class
    assert d.num_classes == 10 and not d.model.training
    small = plugins.create("task", "cifar10-resnet20", data=str(data), checkpoint=str(ckpt),
                           val_limit=10, test_limit=30).load(progress=False)
    assert len(small.val_y) == 10 and len(small.test_y) == 30
    assert np.bincount(small.test_y.numpy(), minlength=10).tolist() == [3] * 10  # balanced subset


def test_checkpoint_errors(tmp_path):
    data = _fake_cifar(tmp_path / "cifar", per_class=10)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelError, match="unreadable checkpoint"):
        plugins.create("task", "cifar10-resnet20", data=str(data), checkpoint=str(bad)).load()
    good = _checkpoint(tmp_path / "good.pt")
    (tmp_path / "good.sha256").write_text("0" * 64 + "  good.pt\n")
    with pytest.raises(ModelError, match="sha256"):
        plugins.create("task", "cifar10-resnet20", data=str(data), checkpoint=str(good)).load()
    wrong = _checkpoint(tmp_path / "c100.pt", num_classes=100)
    with pytest.raises(ModelError, match="does not fit"):
        plugins.create("task", "cifar10-resnet20", data=str(data), checkpoint=str(wrong)).load()
    with pytest.raises(ConfigError, match="wsbench train --task cifar100-resnet18"):
        plugins.create("task", "cifar100-resnet18").load()


def test_shipped_checkpoint_matches_its_sha256():
    from wsbench_plugins.cifar import PACKAGED

    pt = PACKAGED / "cifar10-resnet20.pt"
    if not pt.exists():
        pytest.skip("the trained CIFAR-10 ResNet-20 checkpoint is not in this checkout")
    digest = (PACKAGED / "cifar10-resnet20.sha256").read_text().split()[0]
    assert hashlib.sha256(pt.read_bytes()).hexdigest() == digest
    state = torch.load(pt, weights_only=True)
    assert 0.26e6 < sum(t.numel() for k, t in state.items() if "running" not in k and "num_batches" not in k) < 0.28e6


@pytest.mark.skipif(not SHARED_TAR.exists(), reason=f"{SHARED_TAR} is absent (CIFAR-10 JPEG data)")
def test_shipped_model_on_real_cifar10_subset():
    """CIFAR-10 (JPEG): the shipped ResNet-20 on a 500-image subset of each split."""
    from wsbench_plugins.cifar import PACKAGED

    from wsbench.search.fitness import FitnessHarness

    if not (PACKAGED / "cifar10-resnet20.pt").exists():
        pytest.skip("the trained CIFAR-10 ResNet-20 checkpoint is not in this checkout")
    d = plugins.create("task", "cifar10-resnet20", val_limit=500, test_limit=500).load(progress=False)
    h = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       metric="accuracy", device="cpu")
    base = h.score_baseline("test")
    assert base > 0.83  # ~0.9 on the full test set; a 500-image subset varies by a few points
    # 64 uniform bins keep most of the accuracy; 4 bins do not
    assert h.score_quantization(h.quantizer.quantize(h.view.original, 64), "test") > base - 0.05
    assert h.score_quantization(h.quantizer.quantize(h.view.original, 4), "test") < base - 0.2


def test_train_keeps_an_interrupted_run_and_resumes_it(tmp_path, monkeypatch, capsys, request):
    import wsbench_plugins.cifar.training as training

    from wsbench.cli import main

    request.addfinalizer(lambda n=torch.get_num_threads(): torch.set_num_threads(n))  # --threads 1

    data, out = _fake_cifar(tmp_path / "cifar", per_class=12), tmp_path / "ckpt"
    argv = ["train", "--data", str(data), "--out", str(out), "--epochs", "2", "--batch-size", "32",
            "--threads", "1", "--no-progress"]
    real_write = training._write_state

    def killed_in_epoch_two(path, *a, **k):
        if path.exists():  # the save of epoch 2
            raise KeyboardInterrupt
        real_write(path, *a, **k)

    monkeypatch.setattr(training, "_write_state", killed_in_epoch_two)
    assert main(argv) != 0
    monkeypatch.setattr(training, "_write_state", real_write)
    state = out / "cifar10-resnet20.unfinished-state.pt"
    assert state.exists() and not (out / "cifar10-resnet20.pt").exists()

    capsys.readouterr()
    assert main(argv) == 2  # never overwritten by accident
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and str(state) in err

    assert main([*argv, "--resume"]) == 0
    facts = json.loads((out / "cifar10-resnet20.json").read_text())
    assert [r["epoch"] for r in facts["history"]] == [1, 2] and not state.exists()
    assert [p["first_epoch"] for p in facts["segments"]] == [1, 2]
    assert "hostname" not in facts["machine"] and facts["git"] and facts["versions"]["torch"]
    assert "resumed after epoch 1" in (out / "cifar10-resnet20.log").read_text()
    interrupted = (out / "cifar10-resnet20.sha256").read_text().split()[0]

    other = tmp_path / "uninterrupted"
    assert main([*argv[:4], str(other), *argv[5:], "--resume"]) == 0  # nothing to resume: fresh
    assert (other / "cifar10-resnet20.sha256").read_text().split()[0] == interrupted
