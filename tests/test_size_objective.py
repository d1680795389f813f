"""The size objective: d (the paper's) or coded index bits per weight, on every evaluation path."""

from __future__ import annotations

import numpy as np
import pytest

import wsbench
from wsbench.errors import ConfigError
from wsbench.experiments.experiment import parse_experiment

from test_fitness_paths import KS, make, reference_objectives


@pytest.mark.parametrize("coding", ["huffman", "huffman-layer"])
@pytest.mark.parametrize("population_eval", ["loop", "batched"])
def test_bits_objective_is_the_coded_size_of_the_quantization(digits_cnn, coding, population_eval):
    expected = reference_objectives(digits_cnn, KS)
    h = make(digits_cnn, size="bits", size_coding=coding, population_eval=population_eval)
    F = h.evaluate(KS)
    np.testing.assert_allclose(F[:, 0], expected[:, 0], atol=1e-12)
    for (k,), bits in zip(KS, F[:, 1]):  # the public API codes the same quantization
        model = wsbench.compress_model(digits_cnn.model, int(k), coding=coding)
        assert bits == pytest.approx(model.avg_bits, rel=1e-12)
        assert 1.0 <= bits <= np.log2(model.quantization.d) + 1  # Huffman: within a bit of entropy
    assert not np.allclose(F[:, 1], expected[:, 1])  # not d


def test_a_shared_cache_never_gives_bits_for_d_or_back(digits_cnn):
    cache: dict = {}
    d = make(digits_cnn, cache=cache).evaluate(KS[:3])
    bits = make(digits_cnn, cache=cache, size="bits").evaluate(KS[:3])
    assert list(d[:, 1]) == [2.0, 3.0, 5.0] and not np.allclose(bits[:, 1], d[:, 1])


def test_bad_size_settings_are_one_line_errors(digits_cnn):
    with pytest.raises(ConfigError, match="size must be one of d, bits"):
        make(digits_cnn, size="bytes")
    with pytest.raises(ConfigError, match="size coding must be one of"):
        make(digits_cnn, size="bits", size_coding="fixed")


def test_an_experiment_on_bits_has_a_bits_reference_and_its_own_trial_key():
    base = {"name": "e", "tasks": ["digits-cnn"], "optimizers": ["random"], "budget": 5}
    d, bits = parse_experiment(base), parse_experiment({**base, "size": "bits"})
    assert d.reference["digits-cnn"].d_max == 1024 and bits.reference["digits-cnn"].d_max == 32
    (td,), (tb,) = d.trials(), bits.trials()
    assert td.key != tb.key and "size" not in td.config() and tb.config()["size"] == "bits"
