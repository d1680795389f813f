"""The NNC baseline codec (wsbench_plugins.nncodec_adapter) over the optional nncodec package."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from wsbench_plugins import nncodec_adapter as nnc

from wsbench.errors import ConfigError, FormatError, ModelError

needs_nncodec = pytest.mark.skipif(
    not nnc.available(),
    reason="nncodec is not installed (optional extra: pip install -e '.[nncodec]')")


@pytest.fixture
def state(digits_cnn):
    """The digits CNN's state dict as numpy arrays, and its shared weights' names."""
    from wsbench.codec.weights import shared_parameter_names

    model = digits_cnn.model
    arrays = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    return arrays, shared_parameter_names(model)


def test_missing_nncodec_is_one_clear_error(monkeypatch):
    """Without the extra, every call is one ConfigError naming the install command."""
    monkeypatch.setitem(sys.modules, "nncodec", None)  # import nncodec -> ImportError
    assert not nnc.available()
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[nncodec\]'"):
        nnc.encode({"w": np.ones((2, 2), np.float32)}, qp=-30)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[nncodec\]'"):
        nnc.decode(b"\x00" * 16)


def test_module_import_is_light():
    """Importing the adapter imports neither nncodec nor torch."""
    code = ("import sys, wsbench_plugins.nncodec_adapter; "
            "print(any(m.split('.')[0] in ('nncodec', 'torch') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_step_size_matches_deepcabac():
    assert nnc.step_size(-32) == 2.0 ** -8
    assert nnc.step_size(-28) == 2.0 ** -7
    assert nnc.step_size(-30) == 6 * 2.0 ** -10  # (4 + (qp & 3)) * 2 ** ((qp >> 2) - 2)
    assert nnc.step_size(-31) == 5 * 2.0 ** -10


@needs_nncodec
@pytest.mark.parametrize("qp", [-36, -28])
def test_round_trip_is_the_encoders_reconstruction(state, qp):
    arrays, weights = state
    bitstream = nnc.encode(arrays, qp, weights=weights)
    decoded = nnc.decode(bitstream)
    assert list(decoded) == list(arrays)
    rec = nnc.reconstruct(arrays, qp, weights=weights)
    step = nnc.step_size(qp)
    for name, original in arrays.items():
        assert decoded[name].shape == original.shape and decoded[name].dtype == np.float32
        np.testing.assert_array_equal(decoded[name], rec[name])
        err = float(np.abs(decoded[name] - original).max())
        if name in weights:
            # dependent quantization: two interleaved quantizers of step 2 * step (measured:
            # at most 1.8 steps on the digits CNN and CIFAR-10 ResNet-20)
            assert err <= 2 * step, (name, err / step)
            levels = np.unique(np.round(decoded[name] / step, 3))
            assert np.allclose(levels, np.round(levels)), name  # on the step's grid
        else:  # biases at nonweight_qp = -75 (also dependent quantization): near-lossless
            assert err <= 2 * nnc.step_size(nnc.NONWEIGHT_QP), name
    # a coarser step codes the weights in fewer bytes
    assert len(nnc.encode(arrays, qp + 8, weights=weights)) < len(bitstream)


@needs_nncodec
def test_deterministic_bytes(state):
    arrays, weights = state
    first = nnc.encode(arrays, -30, weights=weights)
    again = nnc.encode({k: v.copy() for k, v in arrays.items()}, -30, weights=weights)
    assert first == again
    assert nnc.encode(arrays, -30) == nnc.encode(arrays, -30)  # NNCodec's own rule (ndim >= 2)


@needs_nncodec
def test_weights_selection_and_per_tensor_qp(state):
    arrays, weights = state
    only_default = nnc.decode(nnc.encode(arrays, -20, weights=[]))  # nothing at qp: all fine
    fine = 2 * nnc.step_size(nnc.NONWEIGHT_QP)
    for name in arrays:
        assert np.abs(only_default[name] - arrays[name]).max() <= fine
    first, second = weights[0], weights[1]
    dec = nnc.decode(nnc.encode(arrays, -36, weights=weights, qp_per_tensor={first: -16}))
    assert np.abs(dec[first] - arrays[first]).max() > 2 * nnc.step_size(-36)  # coarser step
    assert np.abs(dec[second] - arrays[second]).max() <= 2 * nnc.step_size(-36)


@needs_nncodec
def test_integers_and_scalars():
    arrays = {"w": np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8),
              "count": np.array(90, dtype=np.int64), "ids": np.arange(-3, 5, dtype=np.int64)}
    dec = nnc.decode(nnc.encode(arrays, -30))
    assert dec["count"].shape == (1,) and dec["count"].dtype == np.int32 and dec["count"][0] == 90
    np.testing.assert_array_equal(dec["ids"], arrays["ids"])


@needs_nncodec
def test_corrupt_bitstream_is_one_format_error(state):
    arrays, weights = state
    bitstream = nnc.encode(arrays, -30, weights=weights)
    rng = np.random.default_rng(0)
    flipped = bytearray(bitstream)
    for j in rng.integers(len(flipped) // 2, len(flipped), size=3):
        flipped[j] ^= 0x5A
    cases = [b"", bitstream[:10], bitstream[: len(bitstream) // 2], bytes(flipped),
             rng.integers(0, 256, 300, dtype=np.uint8).tobytes()]
    for bad in cases:
        with pytest.raises(FormatError, match="NNC bitstream") as info:
            nnc.decode(bad)
        assert "\n" not in str(info.value)
    with pytest.raises(FormatError, match="is bytes"):
        nnc.decode("bitstream.nnc")  # nncodec would read a path; the adapter refuses


@needs_nncodec
def test_bad_inputs_are_one_clear_error(state):
    arrays, _ = state
    with pytest.raises(ConfigError, match="qp must be an integer"):
        nnc.encode(arrays, -30.5)
    with pytest.raises(ConfigError, match="unknown nncodec option"):
        nnc.encode(arrays, -30, qp_density=3)
    with pytest.raises(ConfigError, match="not given"):
        nnc.encode(arrays, -30, weights=["nope.weight"])
    with pytest.raises(ConfigError, match="empty"):
        nnc.encode({"w": np.zeros((0, 3), np.float32)}, -30)
    with pytest.raises(ConfigError, match="non-empty dict"):
        nnc.encode({}, -30)
    with pytest.raises(ModelError, match="NaN"):
        nnc.encode({"w": np.array([[np.nan, 1.0]], np.float32)}, -30)


@needs_nncodec
def test_the_nncodec_space_codes_what_its_file_decodes_one_qp_or_one_per_tensor(digits_cnn):
    import torch

    from wsbench import plugins
    from wsbench.codec.weights import WeightView

    view = WeightView.of(digits_cnn.model)
    shared = [(n, tuple(p.shape), "float32") for n, p in zip(view.names, view.params)]
    one = plugins.create("space", "nncodec")
    one.bind(view)
    per = plugins.create("space", "nncodec", per_tensor=True)
    per.bind(view)
    assert len(one.xl) == 1 and len(per.xl) == len(view.names) == 4
    q = one.quantize(view, None, np.array([-24.0]))
    same = per.quantize(view, None, np.full(4, -24.0))
    assert torch.equal(q.dequantize(), same.dequantize())  # one qp everywhere is the standard's
    coarse = per.quantize(view, None, np.array([-24.0, -24.0, -16.0, -24.0]))  # the big tensor
    assert coarse.native.bits < q.native.bits
    for space, quant in ((one, q), (per, coarse)):
        decoded, rest = space.decode(quant.native.header, quant.native.payload, shared)
        assert torch.equal(decoded, quant.dequantize())
        state = view.model.state_dict()  # biases coded near-losslessly (qp -75, step 2.3e-6)
        assert set(rest) == set(quant.native.rest) == set(state) - set(view.names) != set()
        assert all(np.allclose(rest[n], state[n].numpy(), atol=3e-6, rtol=0) for n in rest)
        assert space.k_of(np.atleast_1d(quant.native.header["qp"]).astype(float)) == quant.d


@needs_nncodec
def test_a_native_nnc_file_codes_the_whole_state_dict_once(digits_cnn, tmp_path):
    import torch

    from wsbench import load_state_dict, plugins
    from wsbench.codec import fileformat
    from wsbench.codec.compress import CompressedModel
    from wsbench.codec.weights import WeightView

    view = WeightView.of(digits_cnn.model)
    state = digits_cnn.model.state_dict()
    sizes = {}
    for code_rest in (True, False):
        space = plugins.create("space", "nncodec", code_rest=code_rest)
        space.bind(view)
        q = space.quantize(view, None, np.array([-24.0]))
        cm = CompressedModel.from_view(view, q, "none", "native")
        path = cm.save(tmp_path / f"rest-{code_rest}.wsb")
        header, tensors = fileformat.read(path)
        stored = {k for k in tensors if k.startswith("rest.")}
        assert (stored == set()) if code_rest else (stored == {f"rest.{n}" for n in cm.rest})
        loaded = load_state_dict(path)
        assert set(loaded) == set(state)
        assert all(loaded[n].dtype == state[n].dtype and loaded[n].shape == state[n].shape
                   for n in state)
        flat = torch.cat([loaded[n].reshape(-1) for n in view.names])
        assert torch.equal(flat, q.dequantize())
        assert all(torch.allclose(loaded[n], state[n], atol=3e-6, rtol=0) for n in cm.rest)
        sizes[code_rest] = path.stat().st_size
    assert sizes[True] < sizes[False]  # the rest coded once, by the codec, is smaller than fp32


@needs_nncodec
def test_packed_rest_saves_the_per_tensor_headers_and_decodes_the_same(digits_cnn, tmp_path):
    import torch
    from wsbench_plugins.nncodec_space import PACKED, unpack

    from wsbench import load_state_dict, plugins
    from wsbench.codec.compress import CompressedModel
    from wsbench.codec.weights import WeightView

    view = WeightView.of(digits_cnn.model)
    files = {}
    for pack in (False, True):
        space = plugins.create("space", "nncodec", pack_rest=pack, rest_qp=-40)
        space.bind(view)
        q = space.quantize(view, None, np.array([-24.0]))
        files[pack] = load_state_dict(CompressedModel.from_view(view, q, "none", "native").save(
            tmp_path / f"{pack}.wsb")), len(q.native.payload)
    (plain, plain_bytes), (packed, packed_bytes) = files[False], files[True]
    assert packed_bytes < plain_bytes and set(plain) == set(packed)
    state = digits_cnn.model.state_dict()
    assert all(torch.equal(plain[n], packed[n]) for n in view.names)  # the weights: the same
    step = 2 ** (-40 / 4)  # the rest, coded at qp -40 either way: within two steps (trellis)
    assert all(torch.allclose(d[n], state[n], atol=2 * step, rtol=0)
               for d in (plain, packed) for n in state if n not in view.names)
    with pytest.raises(FormatError, match="layout"):
        unpack({PACKED["f"]: np.zeros(3, np.float32)}, {"f": [["a", 2]]})
    with pytest.raises(ConfigError, match="rest_qp"):
        plugins.create("space", "nncodec", rest_qp=-200)


@needs_nncodec
def test_the_harness_scores_what_the_file_decodes_biases_and_norms_included(digits_cnn, tmp_path):
    """rest_qp 0 (a step of 1) ruins the biases: the search must see that, as the file gives it,
    and put the trained ones back afterwards."""
    import torch

    from wsbench import load_state_dict, plugins
    from wsbench.codec.compress import CompressedModel
    from wsbench.search.fitness import FitnessHarness

    trained = {k: v.clone() for k, v in digits_cnn.model.state_dict().items()}
    h = FitnessHarness(digits_cnn, plugins.create("quantizer", "uniform"),
                       plugins.create("space", "nncodec", qp_min=-40, qp_max=-40, rest_qp=0),
                       device="cpu")
    q = h.quantization(np.array([-40.0]))
    assert q.native.decoded_rest and h.space.code_rest
    searched = 1 - h.evaluate(np.array([[-40.0]]))[0, 0]
    assert all(torch.equal(v, trained[k]) for k, v in h.model.state_dict().items())  # put back
    h.model.load_state_dict(load_state_dict(
        CompressedModel.from_view(h.view, q, "none", "native").save(tmp_path / "m.wsb")))
    from_file = h.score_current("val")
    assert searched == pytest.approx(from_file, abs=1e-12)
    h.view.restore()
    h.model.load_state_dict(trained)
    ruined = [n for n, v in q.native.decoded_rest.items()
              if float(np.abs(np.asarray(v).reshape(-1) - trained[n].numpy().reshape(-1)).max()) > 0.01]
    assert ruined  # so the equality above is about the decoded rest, not the trained one
    assert h.quantization(np.array([-40.0])).native.payload == q.native.payload  # trained rest coded
