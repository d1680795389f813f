"""Tasks on external checkpoints (Y. Idelbayev's CIFAR-10 ResNets): the publisher's file layout,
the sha256 check, where the file is looked for, and validation/test halves of the test set."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.errors import ConfigError, ModelError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _publisher_layout(path: Path, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    """A ResNet-20 saved as the publisher saved theirs: DataParallel's ``module.`` prefix, head
    ``linear``, inside ``{"state_dict", "best_prec1"}``."""
    from wsbench_plugins.cifar.models import resnet20

    torch.manual_seed(seed)
    model = resnet20(10).eval()
    for m in model.modules():  # BatchNorm statistics that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = {"module." + k.replace("fc.", "linear.", 1) if k.startswith("fc.") else "module." + k: v
             for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"state_dict": state, "best_prec1": 12.5}, buf)
    path.write_bytes(buf.getvalue())
    return path, model


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A stand-in for resnet20-12fca82f.th whose sha256 the task is told to expect."""
    from test_cifar_task import _fake_cifar
    from wsbench_plugins.cifar import external

    path, model = _publisher_layout(tmp_path / "resnet20-12fca82f.th")
    entry = dataclasses.replace(external.IDELBAYEV["resnet20"],
                                sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setitem(external.IDELBAYEV, "resnet20", entry)
    return path, model, _fake_cifar(tmp_path / "cifar", per_class=20)


def test_the_publisher_layout_loads_and_predicts_as_the_saved_model(stand_in):
    from wsbench_plugins.cifar.data import load_cifar, to_float
    from wsbench_plugins.cifar.external import IMAGENET_MEAN, IMAGENET_STD, half_split

    path, original, data = stand_in
    task = plugins.create("task", "cifar10-resnet20-idelbayev", checkpoint=str(path), data=str(data))
    d = task.load(progress=False)
    ds = load_cifar(str(data), "cifar10")
    val_idx, test_idx = half_split(ds["test_y"], 0)
    # validation and test are the two halves of the official test split, 5 + 5 per class here
    assert np.bincount(d.val_y.numpy()).tolist() == [5] * 10 == np.bincount(d.test_y.numpy()).tolist()
    assert not set(val_idx) & set(test_idx) and len(val_idx) + len(test_idx) == len(ds["test_y"])
    want = to_float(ds["test_x"][val_idx], IMAGENET_MEAN, IMAGENET_STD)  # ImageNet's normalisation
    assert torch.equal(d.val_x, want)
    with torch.inference_mode():
        assert torch.equal(d.model(d.val_x), original(d.val_x))  # every weight landed where it belongs
    assert d.calib_x is not None and len(d.calib_x) == len(ds["train_y"])  # 200 < 2,000: all of train


def test_another_split_seed_gives_other_halves_and_the_same_model(stand_in):
    path, _, data = stand_in
    a = plugins.create("task", "cifar10-resnet20-idelbayev", checkpoint=str(path), data=str(data))
    b = plugins.create("task", "cifar10-resnet20-idelbayev", checkpoint=str(path), data=str(data),
                       split_seed=1)
    da, db = a.load(progress=False), b.load(progress=False)
    assert not torch.equal(da.val_x, db.val_x)
    assert torch.equal(torch.sort(torch.cat([da.val_y, da.test_y])).values,
                       torch.sort(torch.cat([db.val_y, db.test_y])).values)


def test_a_file_with_another_digest_is_refused_in_one_line(stand_in, tmp_path):
    path, _, data = stand_in
    other, _ = _publisher_layout(tmp_path / "other.th", seed=1)
    task = plugins.create("task", "cifar10-resnet20-idelbayev", checkpoint=str(other), data=str(data))
    with pytest.raises(ModelError, match=r"is not resnet20-12fca82f.th: its sha256 is") as err:
        task.load(progress=False)
    assert "\n" not in str(err.value)


def test_a_missing_file_names_where_to_put_it(monkeypatch, tmp_path):
    from wsbench_plugins.cifar import external

    monkeypatch.setattr(external, "candidates", lambda entry: [tmp_path / "a" / entry.file,
                                                              tmp_path / "cache" / entry.file])
    task = plugins.create("task", "cifar10-resnet56-idelbayev")
    with pytest.raises(ConfigError) as err:
        task.load(progress=False)
    msg = str(err.value)
    assert "resnet56-4bfd9763.th" in msg and str(tmp_path / "cache") in msg and "task.checkpoint" in msg


def test_the_four_tasks_are_registered():
    names = plugins.names("task")
    assert {f"cifar10-resnet{n}-idelbayev" for n in (20, 32, 44, 56)} <= set(names)


@pytest.mark.skipif(not (SHARED / "cifar-resnets-idelbayev").is_dir() or not (SHARED / "cifar10-jpeg.tar.xz").exists(),
                    reason="shared/data/cifar-resnets-idelbayev or the CIFAR-10 (JPEG) archive is absent")
def test_the_real_resnet20_loads_and_classifies():
    task = plugins.create("task", "cifar10-resnet20-idelbayev", val_limit=300, test_limit=300)
    d = task.load(progress=False)
    with torch.inference_mode():
        acc = (d.model(d.val_x).argmax(1) == d.val_y).float().mean().item()
    assert acc > 0.7  # 80.46% on the whole validation half (RESULTS.md section 7)
