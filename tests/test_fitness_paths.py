"""Every evaluation path of the fitness harness gives the same objectives.

Loop vs batched (vmap) population evaluation, bf16 screening then fp32 re-scoring, full vs
low-fidelity validation, and the fast write-back / quantizer / packing paths against plain
reference computations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.errors import ConfigError
from wsbench.search.fitness import FitnessHarness
from wsbench.search.metrics import macro_f1
from wsbench.search.splits import stratified_subset

KS = np.array([[2.0], [3.0], [5.0], [9.0], [3.0], [17.0], [40.0], [64.0], [9.0]])  # with repeats


def make(data, **options) -> FitnessHarness:
    return FitnessHarness(data, plugins.create("quantizer", "uniform"),
                          plugins.create("space", "k", k_min=2, k_max=64), device="cpu", **options)


def reference_objectives(data, X: np.ndarray) -> np.ndarray:
    """Objectives computed without the harness: quantize, load a state dict, plain forward."""
    model, x, y = data.model, data.val_x, data.val_y
    layers = (torch.nn.Conv2d, torch.nn.Linear)
    names = [n for n, m in model.named_modules() if isinstance(m, layers)]
    params = [model.get_submodule(n).weight for n in names]
    original = torch.cat([p.detach().flatten() for p in params]).clone()
    quantizer = plugins.create("quantizer", "uniform")
    out = []
    try:
        for (k,) in X:
            q = quantizer.quantize(original, int(k))
            flat, offset = q.codebook[q.indices], 0
            with torch.no_grad():
                for p in params:
                    p.copy_(flat[offset:offset + p.numel()].view_as(p))
                    offset += p.numel()
                pred = model(x).argmax(1)
            out.append((1 - macro_f1(pred, y, 10), q.d))
    finally:
        with torch.no_grad():
            offset = 0
            for p in params:
                p.copy_(original[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
    return np.array(out, dtype=float)


def test_loop_and_batched_give_the_reference_objectives(digits_cnn):
    expected = reference_objectives(digits_cnn, KS)
    loop, batched = make(digits_cnn, population_eval="loop"), make(
        digits_cnn, population_eval="batched", population_batch=3)
    assert not loop.batched and batched.batched
    F_loop, F_batched = loop.evaluate(KS), batched.evaluate(KS)
    np.testing.assert_allclose(F_loop, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(F_batched, expected, rtol=0, atol=1e-12)
    # the archive reads the same: repeats within a batch are cache hits on both paths
    for a, b in zip(loop.archive, batched.archive):
        assert (a.x, a.f, a.cached, a.unique_index) == (b.x, b.f, b.cached, b.unique_index)
    assert loop.unique == batched.unique == len(np.unique(KS))


def test_auto_population_eval_is_the_loop_on_cpu(digits_cnn):
    assert not make(digits_cnn).batched


def test_bf16_screening_then_fp32_rescore(digits_cnn):
    h = make(digits_cnn, screen_dtype="bfloat16")
    seen = []
    hook = h.model[-1].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    try:
        F_screen = h.evaluate(KS)
        assert seen and set(seen) == {torch.bfloat16}  # the search's forwards ran in bf16
        seen.clear()
        F_full = h.rescore(KS)
        assert set(seen) == {torch.float32}  # the reported ones in fp32
    finally:
        hook.remove()
    expected = reference_objectives(digits_cnn, KS)
    np.testing.assert_allclose(F_full, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(F_screen[:, 1], expected[:, 1])
    assert np.abs(F_screen[:, 0] - expected[:, 0]).max() < 0.1
    assert h.score_quantization(h.quantization(KS[3]), "val") == pytest.approx(1 - expected[3, 0])
    h.view.restore()  # score_* leave the candidate in the model; the fixture's model is shared


def test_batched_bf16_screening_runs_on_cpu(digits_cnn):
    h = make(digits_cnn, population_eval="batched", screen_dtype="bfloat16")
    F = h.evaluate(KS)
    expected = reference_objectives(digits_cnn, KS)
    np.testing.assert_array_equal(F[:, 1], expected[:, 1])
    assert np.abs(F[:, 0] - expected[:, 0]).max() < 0.1
    np.testing.assert_allclose(h.rescore(KS), expected, rtol=0, atol=1e-12)


def test_fidelity_one_is_the_default(digits_cnn):
    default, one = make(digits_cnn), make(digits_cnn, fidelity=1.0)
    assert one.search_split == "val" and one.subset_index is None and not one.screening
    assert one.cache_prefix == default.cache_prefix
    np.testing.assert_array_equal(one.evaluate(KS), default.evaluate(KS))


def test_low_fidelity_scores_a_seeded_stratified_subset_of_val(digits_cnn):
    h = make(digits_cnn, fidelity=0.25, fidelity_seed=3)
    idx = h.subset_index
    assert h.screening and h.search_split == "val-subset"
    assert torch.equal(idx, make(digits_cnn, fidelity=0.25, fidelity_seed=3).subset_index)
    assert not torch.equal(idx, make(digits_cnn, fidelity=0.25, fidelity_seed=4).subset_index)
    assert len(torch.unique(idx)) == len(idx) and int(idx.max()) < len(digits_cnn.val_y)
    sub_x, sub_y = h.splits["val-subset"]
    assert torch.equal(sub_x, digits_cnn.val_x[idx]) and torch.equal(sub_y, digits_cnn.val_y[idx])
    # about a quarter of every class, and nothing from the test split
    per_class = (np.bincount(sub_y.numpy(), minlength=10)
                 / np.bincount(digits_cnn.val_y.numpy(), minlength=10))
    assert np.all(np.abs(per_class - 0.25) < 0.05)
    test_rows = {tuple(r) for r in digits_cnn.test_x.flatten(1).numpy().round(4).tolist()}
    assert not test_rows & {tuple(r) for r in sub_x.flatten(1).numpy().round(4).tolist()}
    # screened objectives are the metric on exactly those rows; rescore uses all of val
    F = h.evaluate(KS[:3])
    q = h.quantization(KS[1])
    h.write_quantization(q)
    with torch.inference_mode():
        pred = h.model(sub_x).argmax(1)
    h.view.restore()
    assert F[1, 0] == pytest.approx(1 - macro_f1(pred, sub_y, 10))
    np.testing.assert_allclose(h.rescore(KS[:3]), reference_objectives(digits_cnn, KS[:3]),
                               atol=1e-12)
    # screened values never mix with full ones in a shared cache
    assert h.cache_prefix != make(digits_cnn).cache_prefix


def test_stratified_subset_keeps_every_class():
    y = torch.tensor([0] * 50 + [1] * 5 + [2])
    idx = stratified_subset(y, 0.1, seed=0)
    assert set(y[idx].tolist()) == {0, 1, 2} and len(idx) == 5 + 1 + 1


def test_pipeline_rescores_a_screened_front_on_full_val_and_test(digits_cnn):
    from wsbench.experiments.compress_run import CompressConfig, run_compress
    from wsbench.search.pareto import non_dominated

    cfg = CompressConfig(budget=25, max_requested=200, merge="none", fidelity=0.25,
                         screen_dtype="bfloat16", max_drop=1.0,
                         space_options={"k_min": 2, "k_max": 64})
    result = run_compress(cfg, progress=False)
    X = np.array([s.x for s in result.front])
    expected = reference_objectives(digits_cnn, X)
    np.testing.assert_allclose([1 - s.val for s in result.front], expected[:, 0], atol=1e-12)
    assert non_dominated(expected).all()  # the chosen front is non-dominated in full-val terms
    h = make(digits_cnn)
    for s in result.front:
        h.write_quantization(s.quantization)
        assert s.test == pytest.approx(h.score_current("test"))
    h.view.restore()


def test_weights_written_in_place_and_restored(digits_cnn):
    h = make(digits_cnn)
    ptrs = [p.data_ptr() for p in h.view.params]
    assert h._flat_buffer() is not None  # the parameters are views of one flat buffer
    h.evaluate(KS)
    assert [p.data_ptr() for p in h.view.params] == ptrs
    assert torch.equal(torch.cat([p.detach().flatten() for p in h.view.params]), h.view.original)
    q = h.quantization(KS[2])
    h.write_quantization(q)
    assert torch.equal(torch.cat([p.detach().flatten() for p in h.view.params]), q.dequantize())
    other = make(digits_cnn)  # a second harness on the same model shares the buffer
    assert other._flat_buffer().data_ptr() == h._flat_buffer().data_ptr()
    h.view.restore()
    with pytest.raises(ValueError):
        h.write_weights(torch.zeros(3))


def test_a_space_is_calibrated_on_the_trained_model(digits_cnn):
    """score_* leave a candidate in the model; binding a calibrated space after that must not
    calibrate on the candidate (it once did in an analysis script)."""
    h = make(digits_cnn)
    h.score_quantization(h.quantization(KS[0]))  # K = 2: far from the trained weights
    seen = []

    class Space:
        def bind(self, view):
            pass

        def calibrate(self, x):
            seen.append(torch.cat([p.detach().flatten() for p in h.view.params]).clone())

    h.bind_space(Space())
    assert torch.equal(seen[0], h.view.original)


def test_full_split_scores_are_remembered_by_content(digits_cnn, monkeypatch):
    from wsbench.codec.quantization import Quantization

    h = make(digits_cnn)
    calls = []
    real_predict = h.predict
    monkeypatch.setattr(h, "predict", lambda *a, **k: calls.append(a) or real_predict(*a, **k))
    q = h.quantization(KS[2])
    first = h.score_quantization(q, "val")
    same = Quantization(q.codebook.clone(), q.indices.clone(), q.k)  # equal content, new tensors
    h.score_quantization(h.quantization(KS[0]), "val")
    assert h.score_quantization(same, "val") == first and len(calls) == 2  # not predicted again
    # served from memory, yet the model holds its weights, as callers scoring further expect
    assert torch.equal(torch.cat([p.detach().flatten() for p in h.view.params]), q.dequantize())
    assert h.score_current("val") == first
    h.score_quantization(same, "test")  # another split is another score
    other = Quantization(q.codebook.clone(), q.indices.clone(), q.k)
    other.codebook[0] += 1.0  # one value changed: new content
    h.score_quantization(other, "val")
    assert len(calls) == 5
    h.view.restore()


def test_write_back_survives_reallocated_parameters(digits_cnn):
    h = make(digits_cnn)
    expected = h.evaluate(KS[:4])
    p = h.view.params[0]
    p.data = p.data.clone()  # someone moved a parameter out of the flat buffer
    try:
        assert h._flat_buffer() is None
        fresh = make(digits_cnn)
        np.testing.assert_array_equal(fresh.evaluate(KS[:4]), expected)
        np.testing.assert_array_equal(h.rescore(KS[:4]), expected)
    finally:
        make(digits_cnn)  # the next harness gathers them into one buffer again


@pytest.mark.parametrize("bad", [{"fidelity": 0.0}, {"fidelity": 1.5}, {"screen_dtype": "fp16"},
                                 {"population_eval": "gpu"}, {"population_batch": 0}])
def test_bad_options_are_config_errors(digits_cnn, bad):
    with pytest.raises(ConfigError):
        make(digits_cnn, **bad)


@pytest.mark.parametrize("k", [2, 3, 255, 1024, 70_000])
def test_fast_uniform_equals_bucketize_reference(k):
    from wsbench_plugins.quantizers import _uniform_bins_torch, portable_linspace

    from wsbench.codec.quantization import compact

    gen = torch.Generator().manual_seed(k)
    w = torch.randn(30_001, generator=gen) ** 3
    edges = portable_linspace(float(w.min()), float(w.max()), k, w)  # the paper's linspace edges
    w = torch.cat([w, edges])  # weights exactly on every edge
    quantizer = plugins.create("quantizer", "uniform")
    quantizer.chunk = 4096  # many chunks, a partial last one
    q = quantizer.quantize(w, k)
    ref = compact(torch.bucketize(w, edges, right=True), w, k + 1, k)
    assert torch.equal(q.indices, ref.indices)
    np.testing.assert_array_equal(q.codebook.numpy(), ref.codebook.numpy())
    # the torch form used off the CPU (CUDA) computes the same bins
    lo, hi = float(w.min()), float(w.max())
    t = _uniform_bins_torch(w, edges, lo, hi, k)
    assert torch.equal(t.indices, ref.indices) and torch.equal(t.codebook, ref.codebook)


@pytest.mark.parametrize("bits", [1, 3, 8, 11, 20])
def test_fixed_width_packing_matches_a_bit_string(monkeypatch, bits):
    from wsbench.codec import fileformat

    monkeypatch.setattr(fileformat, "_CHUNK", 16)
    idx = np.random.default_rng(bits).integers(0, 2 ** bits, 101)
    data, n_bits = fileformat.pack_fixed(idx, bits)
    text = "".join(format(int(v), f"0{bits}b") for v in idx)
    text += "0" * (-len(text) % 8)
    assert n_bits == idx.size * bits
    assert data == int(text, 2).to_bytes(len(text) // 8, "big")
    np.testing.assert_array_equal(fileformat.unpack_fixed(data, idx.size, bits), idx)


def test_chunked_huffman_encoding_is_one_stream(monkeypatch):
    from wsbench.codec import huffman

    idx = np.random.default_rng(0).choice(5, size=1001, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    table = huffman.build_table(np.bincount(idx, minlength=5))
    whole = huffman.encode(idx, table)
    monkeypatch.setattr(huffman, "_CHUNK", 7)
    assert huffman.encode(idx, table) == whole
    np.testing.assert_array_equal(huffman.decode(*whole, idx.size, table), idx)
