"""Brevitas' post-training quantization as a space (wsbench_plugins.brevitas_space)."""

from __future__ import annotations

import numpy as np
import pytest
from wsbench_plugins import brevitas_space as bs

from wsbench.errors import ConfigError, FormatError

needs_brevitas = pytest.mark.skipif(
    not bs.available(), reason="brevitas is not installed (optional extra: pip install -e '.[brevitas]')")


def harness(task, **space):
    from wsbench import plugins
    from wsbench.search.fitness import FitnessHarness

    return FitnessHarness(task, plugins.create("quantizer", "uniform"),
                          plugins.create("space", "brevitas", **space), device="cpu", size="bits",
                          size_coding="native")


@pytest.mark.parametrize("options,words", [
    ({"bits_min": 1}, "bit widths must be integers"), ({"bits_min": 5, "bits_max": 4}, "bit widths"),
    ({"method": "adaround"}, "method must be one of rtn, gptq, gpfq"),
    ({"scaling": "max"}, "scaling must be one of stats, mse"),
    ({"calibration": 0}, "calibration must be >= 1 image for gptq"),
])
def test_bad_options_are_one_clear_error(options, words):
    with pytest.raises(ConfigError, match=words):
        bs.BrevitasSpace(**options)


@needs_brevitas
@pytest.mark.parametrize("method", ["rtn", "gptq", "gpfq"])
def test_the_harness_scores_exactly_what_the_file_decodes(digits_cnn, tmp_path, method):
    """Integers within the bit width, one scale per output channel, and a native file whose
    decoded model scores as the search saw it; the trained weights are put back."""
    import torch

    from wsbench import load_state_dict
    from wsbench.codec.compress import CompressedModel

    trained = {k: v.clone() for k, v in digits_cnn.model.state_dict().items()}
    h = harness(digits_cnn, bits_min=3, bits_max=3, method=method, calibration=64)
    q = h.quantization(np.array([3.0]))
    header = q.native.header
    assert header["bits"] == [3] * len(h.view.names) and header["m"] == 3
    ints, scales = bs.decode(header, q.native.payload, [tuple(p.shape) for p in h.view.params])
    assert all(int(i.abs().max()) <= 3 for i in ints)  # narrow range: -3..3 at 3 bits
    assert [len(s) for s in scales] == [p.shape[0] for p in h.view.params]
    assert torch.equal(bs.dequantize(ints, scales), q.dequantize())
    assert q.d <= len(h.view.names) * 7 * max(p.shape[0] for p in h.view.params)
    searched = 1 - h.evaluate(np.array([[3.0]]))[0, 0]
    assert all(torch.equal(v, trained[k]) for k, v in h.model.state_dict().items())
    path = CompressedModel.from_view(h.view, q, "none", "native").save(tmp_path / "m.wsb")
    h.model.load_state_dict(load_state_dict(path))
    assert searched == pytest.approx(h.score_current("val"), abs=1e-12)
    # the size objective is the payload's: 3-bit integers coded adaptively, plus the scales
    n = sum(p.numel() for p in h.view.params)
    assert 8 * len(q.native.payload) < 3 * n + 32 * sum(len(s) for s in scales)


@needs_brevitas
def test_gptq_and_gpfq_round_otherwise_than_nearest(digits_cnn):
    """The data-driven methods change the rounding (on the same per-channel scales at 3 bits,
    least-squares scaling); round to nearest needs no calibration images."""
    from wsbench.codec.weights import WeightView

    view = WeightView.of(digits_cnn.model, "conv-linear")
    ints = {}
    for method in ("rtn", "gptq", "gpfq"):
        space = bs.BrevitasSpace(bits_min=3, bits_max=3, method=method, calibration=128)
        space.bind(view)
        if method != "rtn":
            with pytest.raises(ConfigError, match="needs calibration inputs"):
                space.quantize(view, None, np.array([3.0]))
            space.calibrate(digits_cnn.val_x)
        ints[method] = bs.decode(*(lambda q: (q.native.header, q.native.payload))(
            space.quantize(view, None, np.array([3.0]))), [tuple(p.shape) for p in view.params])[0]
    for method in ("gptq", "gpfq"):
        changed = sum(int((a != b).sum()) for a, b in zip(ints["rtn"], ints[method]))
        assert changed > 100, method


@needs_brevitas
def test_per_tensor_bit_widths(digits_cnn):
    h = harness(digits_cnn, bits_min=2, bits_max=8, per_tensor=True, method="rtn")
    n = len(h.view.names)
    assert len(h.space.xl) == n
    x = np.array([2.0] + [8.0] * (n - 1))
    q = h.quantization(x)
    ints, _ = bs.decode(q.native.header, q.native.payload, [tuple(p.shape) for p in h.view.params])
    assert int(ints[0].abs().max()) <= 1 and int(ints[1].abs().max()) > 1
    assert h.space.k_of(x) == q.d


@needs_brevitas
def test_a_corrupt_payload_is_one_format_error(digits_cnn):
    h = harness(digits_cnn, bits_min=4, bits_max=4, method="rtn")
    q = h.quantization(np.array([4.0]))
    shapes = [tuple(p.shape) for p in h.view.params]
    header, payload = q.native.header, q.native.payload
    for bad_header, bad_payload in (({**header, "scale_bytes": 4}, payload),
                                    ({**header, "bits": [4]}, payload),
                                    ({k: v for k, v in header.items() if k != "m"}, payload),
                                    (header, payload[:header["scale_bytes"] + 8]),
                                    ({**header, "m": 1}, payload)):
        with pytest.raises(FormatError):
            bs.decode(bad_header, bad_payload, shapes)


def test_a_model_sharing_other_tensors_is_refused():
    import torch

    from wsbench.codec.weights import WeightView

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    space = bs.BrevitasSpace(method="rtn")
    with pytest.raises(ConfigError, match="quantizes Conv2d and Linear weights; the model shares '0.bias' too"):
        space.bind(WeightView.of(model, "all"))


@needs_brevitas
def test_a_layer_given_its_own_quantizer_rounds_onto_that_grid():
    """benchmarks/gptq_vs_brevitas.py hands Brevitas NNC's grid as a constant scale: round to
    nearest must then give exactly the multiples of the step nearest to the weights."""
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from gptq_vs_brevitas import grid_quant

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    trained = {n: p.detach().clone() for n, p in model.named_parameters()}
    layers = bs.quant_layers(model, ["0.weight", "2.weight"], {"0.weight": 16, "2.weight": 4},
                             "stats", {"0.weight": grid_quant(0.01)})
    got = layers["0.weight"].quant_weight()
    assert float(got.scale) == pytest.approx(0.01)
    torch.testing.assert_close(got.value, torch.round(trained["0.weight"] / 0.01) * 0.01,
                               atol=1e-7, rtol=0)
    assert int(layers["2.weight"].quant_weight().bit_width) == 4  # the others keep the default
