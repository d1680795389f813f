"""Plugin contracts, checked for every registered plugin (a new plugin is tested automatically).

Optimizers: budget, bounds, integrality, same seed => same archive, numpy's global RNG
untouched. Quantizers and spaces: d <= K, indices in range, every shared value is the mean of
its members (recomputed here in numpy float64), deterministic. Merges: the validation score
drops by at most the tolerance, values stay members' means, only neighbouring values merge.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench import options as plugin_options
from wsbench import plugins
from wsbench.codec import native
from wsbench.codec.weights import WeightView
from wsbench.search.optimizer import Optimizer, drive
from wsbench.search.problem import CachedProblem


class SyntheticProblem(CachedProblem):
    """Cheap stand-in for the fitness harness: f1 falls smoothly with K, f2 = K.

    ``shape="k"``: one integer K in [2, 1024]; ``shape="k-clip"``: K plus two continuous
    clipping quantiles in [0, 0.05] and [0.95, 1], which shift f1 a little.
    """

    def __init__(self, shape: str) -> None:
        if shape == "k":
            super().__init__([2.0], [1024.0], [True])
        else:
            super().__init__([2.0, 0.0, 0.95], [1024.0, 0.05, 1.0], [True, False, False])

    def _evaluate_one(self, x):
        f1 = 0.02 + 0.98 * np.exp(-x[0] / 40.0)
        if len(x) > 1:
            f1 += (x[1] - 0.01) ** 2 + (x[2] - 0.99) ** 2
        return float(f1), float(x[0])


class Recording(Optimizer):
    """Passes everything through and keeps each batch exactly as the optimizer asked it."""

    def __init__(self, inner: Optimizer) -> None:
        self.inner, self.name, self.asked = inner, inner.name, []

    def check(self, problem):
        return self.inner.check(problem)

    def setup(self, problem, seed, budget):
        self.inner.setup(problem, seed, budget)

    def ask(self):
        X = self.inner.ask()
        if X is not None:
            self.asked.append(np.array(X, dtype=np.float64, copy=True))
        return X

    def tell(self, X, F):
        self.inner.tell(X, F)


BUDGET = 150
# Options that keep a slow optimizer's contract run short (a GP fit per batch otherwise)
FAST = {"botorch": {"n_init": 120, "batch_size": 15, "mc_samples": 8, "max_choices": 64},
        "optuna": {"sampler": "TPESampler", "batch_size": 5}}


def _optimizer(name: str) -> Optimizer:
    """The optimizer with its fast options; skipped when its optional extra is missing."""
    optimizer = plugins.create("optimizer", name, **FAST.get(name, {}))
    reason = getattr(optimizer, "unavailable", lambda: None)()
    if reason:
        pytest.skip(reason)
    return optimizer


def _run(name: str, shape: str, seed: int, global_seed: int):
    if (name, shape) == ("botorch", "k-clip"):
        pytest.skip("a qLogNEHVI batch over 120 mixed decisions took ~100 s on 2 loaded cores; "
                    "botorch's mixed-space path is run in test_search_optimizers")
    problem = SyntheticProblem(shape)
    optimizer = Recording(_optimizer(name))
    reason = optimizer.check(problem)
    if reason:
        pytest.skip(f"{name} refuses the {shape} problem: {reason}")
    np.random.seed(global_seed)  # a different global state must not change anything
    before = np.random.get_state()
    drive(optimizer, problem, budget=BUDGET, seed=seed)
    after = np.random.get_state()
    untouched = before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    return problem, optimizer, untouched


@pytest.fixture
def _restore_global_rng():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.mark.usefixtures("_restore_global_rng")
@pytest.mark.parametrize("shape", ["k", "k-clip"])
@pytest.mark.parametrize("name", plugins.names("optimizer"))
def test_optimizer_contract(name, shape):
    a, opt_a, untouched = _run(name, shape, seed=7, global_seed=1)
    assert 1 <= a.unique <= BUDGET
    assert untouched, f"{name} used numpy's global random state"
    for X in opt_a.asked:
        assert X.ndim == 2 and X.shape[1] == a.n_var
        assert np.all(X >= a.xl) and np.all(X <= a.xu), f"{name} asked outside the bounds"
        assert np.all(X[:, a.integer] == np.rint(X[:, a.integer])), f"{name} asked a non-integer K"
    b, opt_b, _ = _run(name, shape, seed=7, global_seed=2)
    assert [(e.x, e.f, e.cached) for e in a.archive] == [(e.x, e.f, e.cached) for e in b.archive]
    assert len(opt_a.asked) == len(opt_b.asked)
    assert all(np.array_equal(x, y) for x, y in zip(opt_a.asked, opt_b.asked))


@pytest.mark.parametrize("name", plugins.names("optimizer"))
def test_optimizer_spends_a_budget_smaller_than_one_batch(name):
    problem = SyntheticProblem("k")
    optimizer = _optimizer(name)
    if optimizer.check(problem):
        pytest.skip(optimizer.check(problem))
    drive(optimizer, problem, budget=3, seed=0)
    assert 1 <= problem.unique <= 3


@pytest.mark.parametrize("name", plugins.names("optimizer"))
def test_optimizer_ends_on_a_tiny_space(name):
    """Four decisions and a larger budget: pymoo's ask() may return nothing; no one may hang."""
    problem = SyntheticProblem("k")
    problem.xu = np.array([5.0])
    optimizer = _optimizer(name)
    drive(optimizer, problem, budget=50, seed=0, max_requested=20_000)
    assert 1 <= problem.unique <= 4 and problem.requested < 20_000


# -- quantizers -------------------------------------------------------------------------------

def assert_quantization_invariants(q, weights: torch.Tensor, k: int) -> None:
    """d <= k, int64 indices in [0, d), no empty value, each value = its members' mean."""
    d = q.d
    assert 1 <= d <= k
    idx = q.indices.cpu().numpy()
    assert q.indices.dtype == torch.int64 and idx.shape == (weights.numel(),)
    assert idx.min() >= 0 and idx.max() < d
    counts = np.bincount(idx, minlength=d)
    assert np.all(counts > 0), "a shared value with no member"
    w = weights.detach().cpu().numpy().reshape(-1).astype(np.float64)
    means = np.bincount(idx, weights=w, minlength=d) / counts
    np.testing.assert_allclose(q.codebook.cpu().numpy().astype(np.float64), means,
                               rtol=1e-6, atol=1e-7)


def _weights(n: int = 6000, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(n, generator=gen) * 0.05
    w[:5] = torch.tensor([0.9, -0.7, 0.5, 0.45, -0.6])  # outliers stretch the range
    return w


@pytest.mark.parametrize("k", [2, 7, 64, 1024])
@pytest.mark.parametrize("name", plugins.names("quantizer"))
def test_quantizer_contract(name, k):
    w = _weights()
    q = plugins.create("quantizer", name).quantize(w, k)
    assert_quantization_invariants(q, w, k)
    again = plugins.create("quantizer", name).quantize(w.clone(), k)
    assert torch.equal(q.indices, again.indices) and torch.equal(q.codebook, again.codebook)


# -- merges -----------------------------------------------------------------------------------

def _score(original: torch.Tensor):
    """A synthetic validation score: falls in steps as the dequantized weights drift away."""
    def score(flat: torch.Tensor) -> float:
        rmse = float(torch.sqrt(torch.mean((flat.double() - original.double()) ** 2)))
        return 1.0 - 0.01 * np.floor(rmse / 0.004)
    return score


def _merge_options(name: str) -> list[dict]:
    """Default options, plus a positive tolerance where the merge takes one."""
    if "tolerance" not in (plugin_options.of("merge", name) or {}):
        return [{}]
    return [{}, {"tolerance": 0.02}]


@pytest.mark.parametrize("name", plugins.names("merge"))
def test_merge_contract(name):
    w = _weights(4000, seed=1)
    q = plugins.create("quantizer", "uniform").quantize(w, 48)
    score = _score(w)
    for options in _merge_options(name):
        merger = plugins.create("merge", name, **options)
        tolerance = float(getattr(merger, "tolerance", 0.0))
        # strategies that hold out part of validation get a second, stricter scorer
        holdout = {"check": _score(w * 1.01)} if getattr(merger, "needs_holdout", False) else {}
        result = merger.merge(q, score, **holdout)
        m = result.quantization
        assert_quantization_invariants(m, w, q.k)
        assert m.d <= q.d and result.evaluations >= 1
        assert result.initial_score == pytest.approx(score(q.dequantize()))
        assert result.final_score == pytest.approx(score(m.dequantize()))
        assert result.final_score >= result.initial_score - tolerance - 1e-12
        # only neighbours merge: each old value maps to one new value, monotonically
        old, new = q.indices.numpy(), m.indices.numpy()
        target = np.full(q.d, -1)
        target[old] = new
        assert all(np.all(new[old == b] == target[b]) for b in range(q.d)), "a bin was split"
        by_value = target[np.argsort(q.codebook.numpy(), kind="stable")]
        merged_values = m.codebook.numpy()[by_value]
        assert np.all(np.diff(merged_values) >= 0), "non-neighbouring values were merged"


# -- spaces -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_view() -> WeightView:
    """A small real model: two convolutions and a linear layer (1,604 weights), seeded."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 8, 3),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10))
    return WeightView.of(model.eval())


def small_view_shared(view: WeightView) -> list:
    """The ``shared`` rows a native file's header holds for ``view``."""
    return [(n, tuple(p.shape), str(p.dtype).removeprefix("torch.")) for n, p in zip(view.names, view.params)]


@pytest.mark.parametrize("quantizer", plugins.names("quantizer"))
@pytest.mark.parametrize("name", plugins.names("space"))
def test_space_contract(name, quantizer, small_view):
    space = plugins.create("space", name)
    reason = getattr(space, "unavailable", lambda: None)()
    if reason:
        pytest.skip(reason)
    space.bind(small_view)
    # as the harness does after bind: calibration inputs for the spaces that use data
    getattr(space, "calibrate", lambda x: None)(torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    assert len(space.xl) == len(space.xu) == len(space.integer) >= 1
    assert np.all(space.xl <= space.xu)
    rng = np.random.default_rng(0)
    mid = (space.xl + space.xu) / 2
    decisions = [space.xl, space.xu, mid, rng.uniform(space.xl, space.xu)]
    q_obj = plugins.create("quantizer", quantizer)
    for x in decisions:
        x = np.where(space.integer, np.rint(x), x)
        q = space.quantize(small_view, q_obj, x)
        k = space.k_of(x)
        assert q.k == k
        if q.native is not None:  # a codec: its values are its decoder's, not member means
            decoded, rest = native.split_decoded(
                space.decode(q.native.header, q.native.payload, small_view_shared(small_view)))
            assert torch.equal(torch.as_tensor(decoded), q.dequantize()) and q.d <= q.k
            state = small_view.model.state_dict()
            assert set(rest) == set(q.native.rest) <= set(state) - set(small_view.names)
            assert all(np.asarray(rest[n]).size == state[n].numel() for n in rest)
            continue
        assert_quantization_invariants(q, small_view.original, k)
    again = space.quantize(small_view, q_obj, x.copy())  # deterministic (checked once: kmeans is slow)
    assert torch.equal(q.indices, again.indices) and torch.equal(q.codebook, again.codebook)
