"""Empirical bias correction (wsbench.codec.bias_correction) and the nncodec space's use of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from wsbench_plugins import nncodec_adapter as nnc

from wsbench.codec.bias_correction import BiasCorrection
from wsbench.errors import ConfigError

needs_nncodec = pytest.mark.skipif(
    not nnc.available(),
    reason="nncodec is not installed (optional extra: pip install -e '.[nncodec]')")


def two_blocks() -> nn.Module:
    """conv-BN-ReLU twice (the BN reads its conv's output), a bias-free conv, a linear head."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def outputs(model: nn.Module, x: torch.Tensor) -> dict[int, torch.Tensor]:
    """Per-channel means of every BatchNorm's and the head's output on ``x``."""
    got = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: got.__setitem__(
        k, o.double().mean(dim=[0] + list(range(2, o.dim())))))
        for k, m in enumerate(model) if isinstance(m, (nn.BatchNorm2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return got


def quantized(model: nn.Module, step: float) -> nn.Module:
    """A copy with every conv/linear weight rounded to multiples of ``step`` (a biased error)."""
    import copy

    q = copy.deepcopy(model)
    with torch.no_grad():
        for m in q:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.floor(m.weight / step) * step)  # floor: a shift, not noise
    return q


def test_the_corrected_model_has_the_trained_models_output_means_on_the_calibration_images():
    model, x = two_blocks(), torch.randn(64, 3, 8, 8)
    reference = outputs(model, x)
    q = quantized(model, 0.05)
    before = outputs(q, x)
    correction = BiasCorrection.calibrate(model, x)
    changed = correction.apply(q)
    after = outputs(q, x)
    assert set(changed) == {"1.running_mean", "4.running_mean", "8.bias"}
    assert correction.target == {"0": ("1", "running_mean"), "3": ("4", "running_mean"),
                                 "8": ("8", "bias")}
    for k in reference:  # the second block and the head too: corrections are sequential
        assert float((before[k] - reference[k]).abs().max()) > 1e-3
        torch.testing.assert_close(after[k], reference[k], atol=1e-5, rtol=0)
    for name, value in changed.items():  # what it returns is what the model now holds
        torch.testing.assert_close(value, q.state_dict()[name])


def test_a_linear_layer_on_sequences_is_corrected_per_output_feature():
    """A sequence model's Linear returns [N, T, C]: its channels are the last dimension, not
    the positions (a transformer's qkv projection once failed with a shape error here)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4)).eval()
    x = torch.randn(16, 9, 6)  # 16 sequences of 9 positions

    def means(m: nn.Module) -> torch.Tensor:
        with torch.no_grad():
            return m(x).double().mean(dim=(0, 1))

    q = quantized(model, 0.1)
    assert float((means(q) - means(model)).abs().max()) > 1e-3
    changed = BiasCorrection.calibrate(model, x).apply(q)
    assert set(changed) == {"0.bias", "2.bias"} and changed["0.bias"].shape == (12,)
    torch.testing.assert_close(means(q), means(model), atol=1e-5, rtol=0)


def test_an_unquantized_model_is_left_as_it_is():
    model, x = two_blocks(), torch.randn(32, 3, 8, 8)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    BiasCorrection.calibrate(model, x).apply(model)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, trained[k], atol=1e-6, rtol=0)


@needs_nncodec
@pytest.mark.parametrize("option", [-1, True, 1.5])
def test_bad_bias_correction_options_are_one_clear_error(option):
    from wsbench import plugins

    with pytest.raises(ConfigError, match="bias_correction"):
        plugins.create("space", "nncodec", bias_correction=option)
    with pytest.raises(ConfigError, match="code_rest"):
        plugins.create("space", "nncodec", bias_correction=100, code_rest=False)


@needs_nncodec
def test_bias_correction_lowers_the_error_and_the_file_decodes_what_the_harness_scored(
        digits_cnn, tmp_path):
    """Coarse NNC weights on the digits CNN: corrected, the validation error falls; the file
    carries the corrected rest, so loading it gives exactly the score the search saw."""
    from wsb_files import assert_file_scores_as_searched

    from wsbench import plugins
    from wsbench.search.fitness import FitnessHarness

    trained = {k: v.clone() for k, v in digits_cnn.model.state_dict().items()}
    errors = {}
    for n in (0, 200):
        space = plugins.create("space", "nncodec", qp_min=-16, qp_max=-16, rest_qp=-40,
                               bias_correction=n)
        h = FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"), space, device="cpu")
        errors[n] = float(h.evaluate(np.array([[-16.0]]))[0, 0])
        assert all(torch.equal(v, trained[k]) for k, v in h.model.state_dict().items())  # put back
        q = h.quantization(np.array([-16.0]))
        assert_file_scores_as_searched(h, q, tmp_path / f"{n}.wsb", errors[n], trained)
    assert errors[200] < errors[0]
