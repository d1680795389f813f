"""wsbench.load_model: a compressed file back as the task's working model, or one error."""

from __future__ import annotations

import pytest
import torch

import wsbench
from wsbench.errors import FormatError


def test_a_compressed_file_loads_back_as_the_task_model_with_its_weights(tmp_path):
    data = wsbench.create("task", "digits-cnn").load(progress=False)
    cm = wsbench.compress_model(data.model, k=16)
    path = cm.save(tmp_path / "k16.wsb")
    model = wsbench.load_model("digits-cnn", path)
    assert not model.training
    expected = wsbench.load_state_dict(path)
    got = model.state_dict()
    assert set(got) == set(expected) and all(torch.equal(got[k], expected[k]) for k in got)
    with torch.inference_mode():  # the quantized model predicts: not the trained one, not noise
        pred = model(data.val_x).argmax(1)
    assert (pred == data.val_y).float().mean() > 0.5


def test_a_file_of_another_architecture_is_one_error(tmp_path):
    mlp = wsbench.create("task", "digits-mlp").load(progress=False).model
    path = wsbench.compress_model(mlp, k=16).save(tmp_path / "mlp.wsb")
    with pytest.raises(FormatError, match=r"not a model of task 'digits-cnn' .*first: "):
        wsbench.load_model("digits-cnn", path)
