"""Default tasks train deterministically with disjoint splits; metrics agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from wsbench import plugins
from wsbench.codec.weights import WeightView
from wsbench.search.metrics import accuracy, macro_f1


def test_digits_splits_are_disjoint_and_stratified():
    from wsbench_plugins.digits import digits_splits

    train, val, test = digits_splits(0)
    rows = lambda part: {tuple(r) for r in part[0].reshape(len(part[0]), -1).numpy().round(4).tolist()}  # noqa: E731
    assert not rows(val) & rows(test)
    assert len(train[1]) + len(val[1]) + len(test[1]) == 1797
    counts = np.bincount(val[1].numpy(), minlength=10)
    assert counts.min() >= 33 and counts.max() <= 38  # ~20% of each class


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    models = []
    for sub in ("a", "b"):
        monkeypatch.setenv("WSBENCH_CACHE", str(tmp_path / sub))
        models.append(plugins.create("task", "digits-mlp", epochs=3).load(progress=False).model)
        assert len(list((tmp_path / sub / "models").glob("digits-mlp-*.pt"))) == 1
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(a, b)


def test_default_task_is_accurate(digits_cnn):
    from wsbench.search.fitness import FitnessHarness

    h = FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"),
                       plugins.create("space", "k"), device="cpu")
    assert h.score_baseline("val") > 0.95 and h.score_baseline("test") > 0.95


@pytest.mark.parametrize("seed", range(4))
def test_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, 300)
    p = np.where(rng.random(300) < 0.7, y, rng.integers(0, 7, 300))  # class 6 only predicted
    yt, pt = torch.from_numpy(y), torch.from_numpy(p)
    assert macro_f1(pt, yt, 7) == pytest.approx(f1_score(y, p, average="macro"))
    assert accuracy(pt, yt, 7) == pytest.approx(accuracy_score(y, p))


def test_weight_view_writes_in_place_and_restores(digits_cnn):
    model = digits_cnn.model
    view = WeightView.of(model)
    storage = [p.data_ptr() for p in view.params]
    view.write(torch.zeros(view.numel))
    assert all(float(p.detach().abs().sum()) == 0 for p in view.params)
    assert [p.data_ptr() for p in view.params] == storage  # no reallocation
    view.restore()
    assert torch.equal(torch.cat([p.detach().flatten() for p in view.params]), view.original)
    assert view.numel == sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
