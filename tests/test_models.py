"""Model shapes and parameter counts, and deterministic training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench.errors import ConfigError
from wsbench.models import build_model, cifar_resnet18, resnet20
from wsbench.training import evaluate_accuracy, train


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_resnet20():
    m = resnet20()
    assert 260_000 <= _params(m) <= 280_000
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert resnet20(100)(torch.zeros(1, 3, 32, 32)).shape == (1, 100)


def test_cifar_resnet18():
    m = cifar_resnet18()
    assert 11.1e6 <= _params(m) <= 11.3e6
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)
    assert isinstance(m.maxpool, torch.nn.Identity)
    assert m(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_build_model():
    assert _params(build_model("resnet20", 10)) == _params(resnet20())
    assert build_model("resnet34", 100).fc.out_features == 100
    with pytest.raises(ConfigError, match="resnet20"):
        build_model("vgg11", 10)


def _run(x, y, seed):
    torch.manual_seed(123)
    m = resnet20()
    hist = train(m, x, y, epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4, seed=seed,
                 progress=False, bf16=False)
    return m, hist


def test_training_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 200).astype(np.int64)
    torch.set_num_threads(2)
    m1, h1 = _run(x, y, seed=0)
    m2, h2 = _run(x, y, seed=0)
    assert len(h1["history"]) == 2
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    log = tmp_path / "train.log"
    m3 = resnet20()
    train(m3, x, y, epochs=1, batch_size=64, lr=0.1, weight_decay=5e-4, seed=0, progress=False,
          bf16=False, log_path=log, eval_data=(x[:50], y[:50]))
    assert "eval_acc" in log.read_text() and log.read_text().count("\n") == 1
    assert 0.0 <= evaluate_accuracy(m3, x[:50], y[:50], batch_size=16) <= 1.0


def test_thread_governor_drops_to_one_thread_under_contention():
    from wsbench.training import _ThreadGovernor

    before = torch.get_num_threads()
    try:
        g = _ThreadGovernor(2, probe_every=10)
        states = []
        for dt in [0.5] * 5 + [4.0] * 3 + [1.0] * 10 + [0.5] * 4:
            g.step_done(dt)
            states.append(g.cur)
        assert states[4] == 2 and states[7] == 1  # slowed down -> one thread
        assert states[-1] == 2  # probed full width again and it was fast
    finally:
        torch.set_num_threads(before)


def test_thread_governor_compares_steps_per_example():
    from wsbench.training import _ThreadGovernor

    before = torch.get_num_threads()
    try:
        g = _ThreadGovernor(2, probe_every=10)
        # an epoch's short last batch (72 of 128 examples) is faster in total, not per example
        for dt, n in [(0.5, 128)] * 4 + [(0.29, 72)] + [(0.5, 128)] * 5:
            g.step_done(dt, n)
            assert g.cur == 2
        g.step_done(2.0, 128)
        g.step_done(2.0, 128)
        g.step_done(2.0, 128)
        assert g.cur == 1  # 4x slower per example: contended
    finally:
        torch.set_num_threads(before)
