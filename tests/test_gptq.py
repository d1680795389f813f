"""GPTQ rounding (wsbench.codec.gptq) and the nncodec space's use of it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from wsbench_plugins import nncodec_adapter as nnc

from wsbench.codec.gptq import gptq_round, round_columns
from wsbench.errors import ConfigError

needs_nncodec = pytest.mark.skipif(
    not nnc.available(),
    reason="nncodec is not installed (optional extra: pip install -e '.[nncodec]')")


def on_grid(a: np.ndarray, step: float) -> bool:
    return bool(np.allclose(a / step, np.round(a / step), atol=1e-4))


def correlated_inputs(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """Rows whose columns are strongly correlated (where compensation has something to use)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g) @ torch.randn(3, d, generator=g) + 0.1 * torch.randn(n, d, generator=g)


def test_rounded_columns_lie_on_the_grid_and_change_the_output_less_than_nearest_rounding():
    torch.manual_seed(0)
    w, x, step = torch.randn(16, 24), correlated_inputs(500, 24), 0.3
    q = round_columns(w, (x.T @ x).double() / len(x), step)
    nearest = torch.round(w.double() / step) * step
    assert on_grid(q.numpy(), step)
    assert not torch.equal(q, nearest)
    err = ((w.double() - q) @ x.double().T).pow(2).mean()
    err_nearest = ((w.double() - nearest) @ x.double().T).pow(2).mean()
    assert err < 0.5 * err_nearest


def test_weights_of_an_input_that_is_always_zero_become_zero():
    x = correlated_inputs(200, 6)
    x[:, 2] = 0
    q = round_columns(torch.ones(4, 6), (x.T @ x).double() / len(x), 0.25)
    assert torch.all(q[:, 2] == 0)


def conv_net() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, bias=False, groups=2), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    return model.eval()


def test_a_model_is_rounded_in_forward_order_onto_each_tensors_grid_and_put_back():
    model, x = conv_net(), torch.randn(64, 3, 8, 8)
    names = ["9.weight", "0.weight", "3.weight", "5.weight"]  # not in forward order
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    tensors = {n: model.state_dict()[n].numpy().copy() for n in names}
    steps = {"0.weight": 0.2, "3.weight": 0.15, "5.weight": 0.1, "9.weight": 0.25}
    out = gptq_round(model, tensors, steps, x)
    assert list(out) == names  # the caller's order, though rounded in forward order
    for n in names:
        assert on_grid(out[n], steps[n]) and out[n].shape == tensors[n].shape
    # the grouped convolution has no GPTQ here: rounded to nearest
    np.testing.assert_array_equal(
        out["3.weight"], (np.round(tensors["3.weight"].astype(np.float64) / 0.15) * 0.15).astype(np.float32))
    for k, v in model.state_dict().items():
        assert torch.equal(v, trained[k])
    near, comp = copy.deepcopy(model), copy.deepcopy(model)
    with torch.no_grad():
        for n in names:
            near.state_dict()[n].copy_(torch.round(trained[n].double() / steps[n]) * steps[n])
            comp.state_dict()[n].copy_(torch.from_numpy(out[n]))
        y = model(x)
        assert (comp(x) - y).pow(2).mean() < (near(x) - y).pow(2).mean()


@needs_nncodec
@pytest.mark.parametrize("options", [{"gptq": -1}, {"gptq": True}, {"gptq": 2.5},
                                     {"gptq": 64, "use_dq": True}, {"calib_seed": -1},
                                     {"calib_seed": "1"}])
def test_bad_gptq_options_are_one_clear_error(options):
    from wsbench import plugins

    with pytest.raises(ConfigError, match="gptq|calib_seed"):
        plugins.create("space", "nncodec", **options)


@needs_nncodec
def test_the_calibration_seed_chooses_the_images():
    from wsbench import plugins
    from wsbench.codec.weights import WeightView

    x = torch.arange(40, dtype=torch.float32).reshape(40, 1, 1, 1).expand(40, 3, 2, 2).contiguous()
    chosen = {}
    for seed in (0, 0, 1):
        space = plugins.create("space", "nncodec", gptq=8, calib_seed=seed)
        space.bind(WeightView.of(HeadFirst().eval()))
        space.calibrate(x)
        chosen.setdefault(seed, []).append(space._gptq_x[:, 0, 0, 0].tolist())
    assert chosen[0][0] == chosen[0][1] and len(set(chosen[0][0])) == 8
    assert chosen[1][0] != chosen[0][0]


@needs_nncodec
def test_gptq_without_calibration_inputs_is_one_clear_error(digits_cnn):
    from wsbench import plugins
    from wsbench.codec.weights import WeightView

    space = plugins.create("space", "nncodec", gptq=32)
    space.bind(WeightView.of(digits_cnn.model))
    with pytest.raises(ConfigError, match="calibrat"):
        space.quantize(space._view, None, np.array([-16.0]))


@needs_nncodec
def test_nnc_keeps_every_gptq_value_and_the_file_decodes_what_the_harness_scored(digits_cnn, tmp_path):
    """Coarse steps on the digits CNN: NNC's uniform reconstruction codes GPTQ's values exactly,
    GPTQ beats nearest rounding on the same grid, and the file scores what the search saw."""
    from wsb_files import assert_file_scores_as_searched

    from wsbench import plugins
    from wsbench.search.fitness import FitnessHarness

    trained = {k: v.clone() for k, v in digits_cnn.model.state_dict().items()}
    errors = {}
    for n in (0, 256):
        space = plugins.create("space", "nncodec", qp_min=-12, qp_max=-12, gptq=n, use_dq=False)
        h = FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"), space, device="cpu")
        errors[n] = float(h.evaluate(np.array([[-12.0]]))[0, 0])
        assert all(torch.equal(v, trained[k]) for k, v in h.model.state_dict().items())
        q = h.quantization(np.array([-12.0]))
        decoded = q.codebook[q.indices].numpy()
        if n:
            arrays = {k: t.detach().numpy() for k, t in h.view.split(h.view.original).items()}
            steps = {k: nnc.step_size(-12) for k in arrays}
            expected = gptq_round(h.model, arrays, steps, space._gptq_x)
            np.testing.assert_array_equal(decoded, np.concatenate([expected[k].reshape(-1) for k in arrays]))
        assert_file_scores_as_searched(h, q, tmp_path / f"{n}.wsb", errors[n], trained)
    assert errors[256] < errors[0]


class HeadFirst(nn.Module):
    """Registers its head before its convolution: registration order is not forward order."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.fc = nn.Linear(8, 4)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@needs_nncodec
def test_per_tensor_qps_reach_their_own_tensors_when_registration_and_forward_order_differ():
    """Forward order is conv, fc; registration (the decision's order) is fc, conv. Each tensor
    must come back on the grid of its own qp, with the distinct values that grid gives."""
    from wsbench import plugins
    from wsbench.codec.weights import WeightView

    model = HeadFirst().eval()
    view = WeightView.of(model)
    assert view.names == ["fc.weight", "conv.weight"]
    space = plugins.create("space", "nncodec", qp_min=-30, qp_max=-10, per_tensor=True, gptq=16)
    space.bind(view)
    space.calibrate(torch.randn(32, 3, 6, 6))
    qps = {"fc.weight": -30, "conv.weight": -10}
    q = space.quantize(view, None, np.array([qps[n] for n in view.names], dtype=float))
    decoded = q.codebook[q.indices].numpy()
    fc, conv = decoded[:32], decoded[32:]
    assert on_grid(fc, nnc.step_size(-30)) and on_grid(conv, nnc.step_size(-10))
    assert len(np.unique(fc)) > 8  # a fine grid keeps the head's values apart
    assert not on_grid(fc, nnc.step_size(-10))


class FusedLinear(nn.Module):
    """Uses one Linear's weight through a functional call, never calling the Linear itself (as
    the GRU of shakespeare-gru runs ATen's fused kernel over its Linear weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.used, self.called = nn.Linear(6, 6), nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.called(torch.nn.functional.linear(x, self.used.weight, self.used.bias))


def test_a_weight_whose_layer_is_never_called_is_rounded_to_nearest():
    torch.manual_seed(0)
    model, x = FusedLinear().eval(), correlated_inputs(64, 6)
    tensors = {n: p.detach().numpy().copy() for n, p in model.named_parameters() if n.endswith("weight")}
    steps = {n: 0.05 for n in tensors}
    out = gptq_round(model, tensors, steps, x)
    np.testing.assert_array_equal(out["used.weight"],
                                  (np.round(tensors["used.weight"].astype(np.float64) / 0.05) * 0.05)
                                  .astype(np.float32))
    assert on_grid(out["called.weight"], 0.05)


def test_a_fused_gru_kernels_matrices_see_the_inputs_and_hidden_states_of_every_step():
    """The GRU of shakespeare-gru runs ATen's kernel over its Linear weights: GPTQ must see what
    its step-by-step form feeds each Linear (the sequence into ``ih``, h_0 .. h_{T-1} into ``hh``)."""
    from wsbench.codec.gptq import _recurrent_rows
    from wsbench_plugins.shakespeare.models import CharGRU

    torch.manual_seed(0)
    model, x = CharGRU(vocab=11, embed=6, hidden=5).eval(), torch.randint(0, 11, (3, 7))
    fed = {"ih": [], "hh": []}
    hooks = [getattr(model, n).register_forward_pre_hook(lambda _m, i, n=n: fed[n].append(i[0]))
             for n in fed]
    with torch.no_grad():
        model.unrolled(x)
    for h in hooks:
        h.remove()
    steps = torch.stack(fed["hh"], dim=1)  # [N, T, H], one call a step
    assert steps.shape == (3, 7, 5)
    torch.testing.assert_close(_recurrent_rows(model, "ih.weight", x), fed["ih"][0].reshape(-1, 6))
    torch.testing.assert_close(_recurrent_rows(model, "hh.weight", x), steps.reshape(-1, 5))


def recurrent_output_errors(model: nn.Module, x: torch.Tensor, step: float) -> tuple[float, float]:
    """The model's output error after GPTQ and after nearest rounding of the recurrent
    layer's matrices (the head stays trained: its own GPTQ would hide theirs)."""
    names = [n for n, p in model.named_parameters() if n.startswith("rnn.weight")]
    trained = {n: p.detach().clone() for n, p in model.named_parameters()}
    tensors = {n: trained[n].numpy().copy() for n in names}
    out = gptq_round(model, tensors, {n: step for n in names}, x)
    assert all(torch.equal(p, trained[n]) for n, p in model.named_parameters())  # put back
    with torch.no_grad():
        y = model(x)
        errors = []
        for rounded in (out, {n: np.round(tensors[n] / step) * step for n in names}):
            for n, p in model.named_parameters():
                if n in rounded:
                    p.copy_(torch.as_tensor(rounded[n], dtype=p.dtype))
            errors.append(float((model(x) - y).pow(2).mean()))
            for n, p in model.named_parameters():
                p.copy_(trained[n])
    return errors[0], errors[1]


class Recurrent(nn.Module):
    """Samples first, as calibration inputs are; a time-major layer gets them transposed, and
    ``stepwise`` calls the kernel once a step, carrying the state (as a decoding loop does)."""

    def __init__(self, kind: str, layers: int = 1, batch_first: bool = True,
                 stepwise: bool = False) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(3)
            cell = {"gru": nn.GRU, "lstm": nn.LSTM}[kind]
            self.rnn = cell(6, 12, num_layers=layers, batch_first=batch_first)
            self.head = nn.Linear(12, 4)
        self.batch_first, self.stepwise = batch_first, stepwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stepwise:
            state, outs = None, []
            for t in range(x.shape[1]):
                out, state = self.rnn(x[:, t:t + 1], state)
                outs.append(out)
            return self.head(torch.cat(outs, dim=1))
        if self.batch_first:
            return self.head(self.rnn(x)[0])
        return self.head(self.rnn(x.transpose(0, 1))[0]).transpose(0, 1)


@pytest.mark.parametrize("kind, batch_first, stepwise",
                         [("gru", True, False), ("lstm", False, False), ("gru", True, True)])
def test_gptq_on_a_recurrent_layers_matrices_changes_its_output_less_than_nearest_rounding(
        kind, batch_first, stepwise):
    # 40 steps: more than one chunk of samples, so a time-major layer's states must not be cut
    model = Recurrent(kind, batch_first=batch_first, stepwise=stepwise).eval()
    x = correlated_inputs(8 * 40, 6).reshape(8, 40, 6)
    gptq, nearest = recurrent_output_errors(model, x, 0.08)
    assert gptq < 0.7 * nearest


def test_a_stacked_recurrent_layer_is_rounded_to_nearest():
    """Two layers in one kernel call: the second layer's inputs are not the call's, so no GPTQ."""
    model, x = Recurrent("gru", layers=2).eval(), correlated_inputs(40, 6).reshape(4, 10, 6)
    tensors = {n: p.detach().numpy().copy() for n, p in model.named_parameters() if "_l" in n}
    out = gptq_round(model, tensors, {n: 0.08 for n in tensors}, x)
    for n, t in tensors.items():
        np.testing.assert_array_equal(out[n], (np.round(t.astype(np.float64) / 0.08) * 0.08)
                                      .astype(np.float32))
