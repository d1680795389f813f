"""The search spaces: K with clipping quantiles, one K per layer, and their option checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.codec.weights import WeightView
from wsbench.errors import ConfigError


@pytest.fixture(scope="module")
def view() -> WeightView:
    from wsbench_plugins.digits import build_digits_model

    torch.manual_seed(1)
    return WeightView.of(build_digits_model("cnn").eval())


@pytest.fixture(scope="module")
def uniform():
    return plugins.create("quantizer", "uniform")


def test_k_clip_without_clipping_is_the_papers_quantization(view, uniform):
    space = plugins.create("space", "k-clip")
    space.bind(view)
    q = space.quantize(view, uniform, np.array([37.0, 0.0, 1.0]))
    ref = uniform.quantize(view.original, 37)
    assert torch.equal(q.indices, ref.indices)
    torch.testing.assert_close(q.codebook, ref.codebook)


def test_k_clip_puts_outliers_in_the_edge_bins_and_refines_the_rest(view, uniform):
    space = plugins.create("space", "k-clip")
    x = np.array([16.0, 0.05, 0.95])
    q = space.quantize(view, uniform, x)  # not bound first: the space sorts on demand
    w = view.original.double().numpy()
    lo, hi = np.quantile(w, 0.05, method="nearest"), np.quantile(w, 0.95, method="nearest")
    assert space.clip_range(view, x) == pytest.approx((lo, hi), rel=1e-6)
    idx = q.indices.numpy()
    assert len(set(idx[w <= lo])) == 1 and len(set(idx[w >= hi])) == 1
    assert q.d <= 16
    # shared values are the means of the original (unclamped) members
    means = np.bincount(idx, weights=w) / np.bincount(idx)
    np.testing.assert_allclose(q.codebook.numpy(), means, rtol=1e-6, atol=1e-7)
    # the same K over a narrower range: weights inside it are represented more finely
    inside = (w > lo) & (w < hi)
    plain = uniform.quantize(view.original, 16)
    err = lambda qq: np.abs(qq.dequantize().double().numpy() - w)[inside].mean()  # noqa: E731
    assert err(q) < 0.5 * err(plain)


@pytest.mark.parametrize("options,message", [
    ({"q_lo_max": 0.6}, "q_lo_max"), ({"q_hi_min": 0.3}, "q_hi_min"), ({"q_hi_min": 1.5}, "q_hi_min"),
    ({"k_min": 1}, r"k_min of space 'k-clip' must be in \[2, 1048576\]"),
    ({"k_max": 2.5}, "k_max of space 'k-clip' takes an integer"),
    ({"k_min": 50, "k_max": 10}, "K bounds"),
])
def test_k_clip_rejects_bad_bounds(options, message):
    with pytest.raises(ConfigError, match=message):
        plugins.create("space", "k-clip", **options)


def test_k_clip_bounds():
    space = plugins.create("space", "k-clip", k_max=512, q_lo_max=0.1, q_hi_min=0.9)
    np.testing.assert_array_equal(space.xl, [2, 0, 0.9])
    np.testing.assert_array_equal(space.xu, [512, 0.1, 1.0])
    assert space.integer.tolist() == [True, False, False]
    assert space.k_of(np.array([33.0, 0.01, 0.99])) == 33


def test_layerwise_k_is_one_codebook_per_layer(view, uniform):
    space = plugins.create("space", "layerwise-k")
    assert len(space.xl) == 0  # the dimension comes from the model
    space.bind(view)
    sizes = view.layer_sizes
    assert len(space.xl) == len(sizes) == 4
    assert np.all(space.xl == 2) and np.all(space.xu == 256) and np.all(space.integer)
    ks = np.array([3.0, 17.0, 200.0, 5.0])
    q = space.quantize(view, uniform, ks)
    assert q.k == space.k_of(ks) == 225 and q.d <= 225
    start = offset = 0
    for n, k in zip(sizes, ks):
        layer = uniform.quantize(view.original[start:start + n], int(k))
        idx = q.indices[start:start + n]
        assert int(idx.min()) >= offset and int(idx.max()) < offset + layer.d
        torch.testing.assert_close(q.dequantize()[start:start + n], layer.dequantize())
        start, offset = start + n, offset + layer.d
    assert offset == q.d


def test_layerwise_k_saves_and_merges_like_a_global_codebook(view, uniform, tmp_path):
    from wsbench.codec.compress import CompressedModel, load_state_dict

    space = plugins.create("space", "layerwise-k", k_max=64)
    space.bind(view)
    q = space.quantize(view, uniform, np.array([4.0, 6.0, 9.0, 3.0]))
    path = CompressedModel.from_view(view, q, "uniform", "huffman").save(tmp_path / "lw.wsb")
    state = load_state_dict(path)
    for name, tensor in view.split(q.dequantize()).items():
        torch.testing.assert_close(state[name], tensor)
    merged = plugins.create("merge", "neighbor").merge(q, lambda flat: 1.0).quantization
    assert merged.d == 1  # every merge is a tie, so all values end up merged, in value order
    torch.testing.assert_close(merged.codebook.double(), view.original.double().mean()[None])


@pytest.mark.parametrize("options,words", [
    ({"k_min": 300}, "K bounds"), ({"k_max": 1}, r"k_max of space 'layerwise-k' must be in \[2, "),
    ({"k_min": "2"}, "k_min of space 'layerwise-k' takes an integer")])
def test_layerwise_k_rejects_bad_bounds(options, words):
    with pytest.raises(ConfigError, match=words):
        plugins.create("space", "layerwise-k", **options)


def test_layerwise_k_refuses_a_decision_of_the_wrong_length(view, uniform):
    space = plugins.create("space", "layerwise-k")
    with pytest.raises(ConfigError, match="one K per layer: 4 layers"):
        space.quantize(view, uniform, np.array([8.0, 8.0]))


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("space,optimizer,merge", [("layerwise-k", "cmaes", "none"),
                                                   ("k-clip", "cb-nsga2", "neighbor")])
def test_spaces_run_through_the_pipeline(space, optimizer, merge):
    """The whole pipeline (search, test scores, merge, coding) on the digits task."""
    from wsbench.experiments.compress_run import CompressConfig, run_compress

    cfg = CompressConfig(space=space, optimizer=optimizer, budget=8, merge=merge,
                         task_options={"epochs": 1}, space_options={"k_max": 8},
                         optimizer_options={"pop_size": 6} if optimizer == "cb-nsga2" else {},
                         device="cpu")
    result = run_compress(cfg, progress=False)
    assert result.unique <= 8 and result.front
    for s, m in zip(result.front, result.merged):
        assert s.d <= s.k and m.d <= s.d
        assert s.huffman.file_size > 0
