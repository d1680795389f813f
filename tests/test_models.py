"""Model shapes and parameter counts, and deterministic training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from wsbench_plugins.cifar.models import build_model, cifar_resnet18, resnet20
from wsbench_plugins.cifar.training import evaluate_accuracy, train

from wsbench.errors import ConfigError, ModelError


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
    from wsbench_plugins.cifar.training import _ThreadGovernor

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
    from wsbench_plugins.cifar.training import _ThreadGovernor

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


def test_swa_ends_on_the_mean_of_the_epoch_end_weights(monkeypatch):
    import wsbench_plugins.cifar.training as training

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (160, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 160).astype(np.int64)
    torch.manual_seed(0)
    m = resnet20()
    snapshots = []
    real_eval = training.evaluate_accuracy

    def spy(model, *a, **kw):  # the epoch-end weights of the trained model (not the probes)
        if model is m:
            snapshots.append({k: p.detach().clone() for k, p in model.named_parameters()})
        return real_eval(model, *a, **kw)

    monkeypatch.setattr(training, "evaluate_accuracy", spy)
    h = train(m, x, y, epochs=1, batch_size=64, lr=0.1, weight_decay=5e-4, seed=0, progress=False,
              bf16=False, eval_data=(x[:32], y[:32]), swa_epochs=3, swa_lr=0.05)
    assert [r.get("swa_models") for r in h["history"]] == [None, 1, 2, 3]
    assert len(snapshots) == 4
    for k, p in m.named_parameters():  # the average of the 3 SWA epochs, not the warm-up epoch
        mean = (snapshots[1][k] + snapshots[2][k] + snapshots[3][k]) / 3
        torch.testing.assert_close(p.detach(), mean, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(p.detach(), snapshots[3][k])  # not the last iterate


def test_update_bn_statistics_do_not_depend_on_the_order_of_the_images():
    from wsbench_plugins.cifar.data import to_float
    from wsbench_plugins.cifar.training import update_bn

    # two very different groups, listed group by group as the paper split lists classes:
    # batches taken in that order would each see one group and understate the variance
    rng = np.random.default_rng(2)
    dark = rng.integers(0, 60, (150, 32, 32, 3), dtype=np.uint8)
    bright = rng.integers(190, 256, (150, 32, 32, 3), dtype=np.uint8)
    x = np.concatenate([dark, bright])
    m = resnet20().eval()
    update_bn(m, x, batch_size=64)  # uneven batches: 4 x 64 + 44
    first = next(b for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    conv = next(c for c in m.modules() if isinstance(c, torch.nn.Conv2d))
    with torch.no_grad():
        act = conv(to_float(x))
    ratio = first.running_var / act.var(dim=(0, 2, 3))
    # one-group batches would give the within-group variance only, a small fraction of this;
    # the zero-padded crops add variance (black borders on bright images), never remove much
    assert float(ratio.min()) > 0.7, ratio
    assert not m.training and first.momentum == 0.1


# killed during the save of epoch 2 (the lr schedule then depends on the restored step) and
# during the second SWA epoch (the state then holds one averaged epoch)
@pytest.mark.parametrize("swa_epochs,killed_at_write", [(0, 2), (2, 4)])
def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, one_thread,
                                                                swa_epochs, killed_at_write):
    import wsbench_plugins.cifar.training as training

    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (160, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 160).astype(np.int64)
    kw = dict(epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4, seed=3, progress=False,
              bf16=False, swa_epochs=swa_epochs, swa_lr=0.05)
    torch.manual_seed(0)
    whole = resnet20()
    train(whole, x, y, **kw)

    state, log = tmp_path / "run.state.pt", tmp_path / "run.log"
    real_write, writes = training._write_state, []

    def killed(*a, **k):
        writes.append(1)
        if len(writes) == killed_at_write:
            raise KeyboardInterrupt
        real_write(*a, **k)

    monkeypatch.setattr(training, "_write_state", killed)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train(resnet20(), x, y, state_path=state, log_path=log, segment={"machine": "a"}, **kw)
    monkeypatch.setattr(training, "_write_state", real_write)
    saved_epochs = killed_at_write - 1
    assert state.exists() and log.read_text().count("epoch ") == saved_epochs  # logged = saved

    torch.manual_seed(99)  # a different init: everything must come from the state
    resumed = resnet20()
    h = train(resumed, x, y, state_path=state, log_path=log, segment={"machine": "b"}, **kw)
    assert [r["epoch"] for r in h["history"]] == list(range(1, 3 + swa_epochs))
    assert [(p["machine"], p["first_epoch"], p["last_epoch"]) for p in h["segments"]] == \
        [("a", 1, saved_epochs), ("b", saved_epochs + 1, 2 + swa_epochs)]
    assert f"resumed after epoch {saved_epochs}" in log.read_text()
    assert "differ from the previous part" in log.read_text()  # machine "a" -> "b"
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k

    with pytest.raises(ConfigError, match="other settings or data"):
        train(resnet20(), x, y, state_path=state, **{**kw, "lr": 0.05})
    with pytest.raises(ConfigError, match="other settings or data"):
        train(resnet20(), x[::-1].copy(), y[::-1].copy(), state_path=state, **kw)
    state.write_bytes(state.read_bytes()[:1000])
    with pytest.raises(ModelError, match="cannot read the training state .*delete it"):
        train(resnet20(), x, y, state_path=state, **kw)
