"""``frontier``: a sample-efficient optimizer for spaces whose size objective grows with the decision.

On real models an evaluation is a validation pass, so quality per unique evaluation is what
counts. Every built-in space (K, k-clip, layer-wise K) shares one structure: the size d grows
with the decision K (d <= K, d ~ K until bins empty), while 1 - metric falls steeply at small K,
then wanders around the unquantized score. ``frontier`` exploits it:

* **Log scale.** Decisions live in the unit cube of :class:`UnitEncoding` (K on log2), where a
  step is a relative change of K.
* **Screening.** A few decisions evenly spaced on the cube's diagonal (all K together, other
  variables at their centre) map the whole trade-off first.
* **A surrogate of the score, and of the size.** The score's trend and its local spread come
  from a kernel regression on the unit cube (bandwidth ``bandwidth`` octaves of K, shrinking
  where points are dense); the size is predicted as K(x) times a smoothed ratio d / K.
* **Expected hypervolume improvement.** Each candidate's score is taken as Normal(trend,
  spread); its expected HV gain over the front found so far is averaged over quantiles, on the
  indicators' own fixed normalisation. A steep leg (large spread) draws evaluations until every
  front point is found; a flat tail (no spread, no gain) draws none.
* **Candidates.** Every unevaluated decision of a small integer space, otherwise random points,
  the midpoints between neighbours of the front (bisection) and steps of halving length around
  front points.
* **Margin estimates** (``estimate_share`` > 0, where the problem offers them): when the leading
  candidate probably adds nothing (it improves the front in fewer than half of the quantiles),
  the leaders are first scored on the ``estimate_share`` of validation images the trained model
  is least sure of (:mod:`wsbench.search.estimate`), each charged that share of an evaluation.
  An estimated candidate is judged by its estimate, corrected by the residuals (full -
  estimate) of evaluated decisions that moved a similar share of predictions; it is evaluated
  in full only if it still leads. In a flat, noisy tail this finds the rare better point at a
  tenth of the cost of sweeping it with full evaluations.

It sees only what every optimizer sees (decisions and objectives on validation), never the
test split, and runs on any task and space with two objectives.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from wsbench_plugins.optimizers import Listed, all_decisions, exhausted
from wsbench_plugins.optimizers_single import UnitEncoding, d_max

from wsbench import Optimizer, Problem, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Population, Range

Fraction = Annotated[float, Range(0.0, 1.0, hi_open=True)]

QUANTILES = (np.arange(16) + 0.5) / 16  # where the score's predictive distribution is sampled
MOVED_BANDWIDTH = 0.05  # residuals of estimates are compared at this distance in moved share


def hv_gain(front: np.ndarray, Z: np.ndarray, ref: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """HV each point of ``Z`` (rows, normalised) would add to the non-dominated ``front``."""
    P = front[np.argsort(front[:, 1])] if len(front) else np.zeros((0, 2))
    # on [t_j, t_{j+1}) of z2 the front reaches down to g_j in z1 (ref1 before its first point)
    t = np.concatenate([P[:, 1], [ref[1]]])
    g = np.minimum.accumulate(np.concatenate([[ref[0]], P[:, 0]]))
    t = np.concatenate([[-np.inf], t])
    out = np.zeros(len(Z))
    for j in range(len(t) - 1):
        lo = np.maximum(Z[:, 1], t[j])
        width = np.clip(np.minimum(t[j + 1], ref[1]) - lo, 0.0, None)
        out += width * np.clip(g[j] - Z[:, 0], 0.0, None)
    return out


def kernel_fit(U: np.ndarray, y: np.ndarray, C: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel-weighted mean and spread of ``y`` (known at ``U``) at the points ``C``.

    The bandwidth is at least ``h`` and at least the distance to the second-nearest known
    point, so a gap between two evaluations is judged by both ends: equal ends (a flat tail)
    give no spread, different ends (a steep or noisy stretch) a large one.
    """
    d2 = ((C[:, None, :] - U[None, :, :]) ** 2).sum(-1)
    second = min(1, d2.shape[1] - 1)
    near = np.partition(d2, second, axis=1)[:, second]
    hc2 = np.maximum(h ** 2, near)[:, None]
    W = np.exp(-0.5 * d2 / hc2) + 1e-300
    s = W.sum(1)
    mean = (W @ y) / s
    var = (W * (y[None, :] - mean[:, None]) ** 2).sum(1) / s
    n_eff = s ** 2 / (W ** 2).sum(1)
    return mean, np.sqrt(var * (1 + 1 / n_eff))


class Frontier(Optimizer):
    """Screening on the diagonal, then the candidate of largest expected HV gain, one at a time.

    ``n_init``: screening points on the diagonal; ``batch_size``: decisions per ask (1 is the
    most sample-efficient); ``bandwidth``: the kernel's width in octaves of K (log2 units);
    ``n_candidates``: random candidates per ask when the space is too large to list;
    ``estimate_share``: share of validation for margin estimates (0: none; off by default so
    that records made before it keep their meaning); ``estimate_batch``: estimates per round.
    """

    def __init__(self, n_init: Annotated[int, Range(2, 10_000)] = 5, batch_size: Population = 1,
                 bandwidth: Annotated[float, Range(0.0, 64.0, lo_open=True)] = 0.5,
                 n_candidates: Annotated[int, Range(1, 1_000_000)] = 512,
                 max_listed: Listed = 4096, jitter: Fraction = 0.0, estimate_share: Fraction = 0.0,
                 estimate_batch: Annotated[int, Range(1, 10_000)] = 2) -> None:
        if int(n_init) < 2:
            raise ConfigError(f"n_init must be at least 2, got {n_init}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if not float(bandwidth) > 0:
            raise ConfigError(f"bandwidth must be > 0 (octaves of K), got {bandwidth}")
        if int(n_candidates) < 1:
            raise ConfigError(f"n_candidates must be at least 1, got {n_candidates}")
        self.n_init, self.batch_size, self.bandwidth = int(n_init), int(batch_size), float(bandwidth)
        if not 0 <= float(jitter) < 1:
            raise ConfigError(f"jitter must be in [0, 1), got {jitter}")
        self.n_candidates, self.max_listed = int(n_candidates), int(max_listed)
        self.jitter = float(jitter)
        if not 0 <= float(estimate_share) < 1:
            raise ConfigError(f"estimate_share must be in [0, 1) (0: no estimates), got {estimate_share}")
        if int(estimate_batch) < 1:
            raise ConfigError(f"estimate_batch must be at least 1, got {estimate_batch}")
        self.estimate_share, self.estimate_batch = float(estimate_share), int(estimate_batch)

    def check(self, problem: Problem) -> str | None:
        return None if problem.n_obj == 2 else f"needs 2 objectives, got {problem.n_obj}"

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        from wsbench.experiments.indicators import Reference

        self.problem = problem
        self.enc = UnitEncoding(problem.xl, problem.xu, problem.integer)
        self.reference = Reference(d_max=d_max(problem))
        self.rng = np.random.default_rng(seed)
        self.X = np.zeros((0, problem.n_var))
        self.F = np.zeros((0, 2))
        self.seen: set[tuple] = set()
        self.step = 0.25
        octaves = np.log2(np.maximum(self.enc.xu, 2) / np.maximum(self.enc.xl, 1))
        span = float(np.max(np.where(self.enc.log, octaves, 1.0)))
        self.h = self.bandwidth / max(span, 1e-9)  # octaves -> unit-cube units
        self.listed = self._listing()
        self.pending = [x for x in self._diagonal(self.n_init)]
        offered = callable(getattr(problem, "estimate", None))
        self.share = self.estimate_share if offered else 0.0
        self.budget = budget
        self.E: dict[tuple, tuple[np.ndarray, float, float, float]] = {}  # x, f1, d, moved
        self.R = np.zeros((0, 2))  # (moved, full - estimated f1) of each evaluated decision

    # -- the decisions ------------------------------------------------------------------------

    def _listing(self) -> np.ndarray | None:
        """Every decision of a small all-integer space (None when too large to list)."""
        if not np.all(self.enc.integer) or self.problem.space_size > self.max_listed:
            return None
        return all_decisions(self.problem)

    def _diagonal(self, n: int) -> np.ndarray:
        """``n`` decisions evenly spaced on the diagonal: size variables together, others centred."""
        Z = np.full((n, len(self.enc.xl)), 0.5)
        Z[:, self.enc.log] = np.linspace(0.0, 1.0, n)[:, None]
        if not self.enc.log.any():
            Z[:] = np.linspace(0.0, 1.0, n)[:, None]
        return self.enc.decode(Z)

    def _size_of(self, X: np.ndarray) -> np.ndarray:
        """K of each decision: the space's ``k_of`` when known, else the sum of integer variables."""
        space = getattr(self.problem, "space", None)
        if space is not None and hasattr(space, "k_of"):
            return np.array([float(space.k_of(x)) for x in X])
        ints = X[:, self.enc.integer]
        return np.maximum(ints.sum(1), 1.0) if ints.shape[1] else np.ones(len(X))

    def _candidates(self) -> np.ndarray:
        if self.listed is not None:
            return self.listed
        n = len(self.enc.xl)
        U = self.enc.encode(self.X)
        Z = self.reference.normalise(self.F)
        from wsbench.search.pareto import non_dominated

        front = U[non_dominated(Z)]
        parts = [self.rng.random((self.n_candidates, n))]
        order = np.argsort(Z[non_dominated(Z)][:, 1])
        fs = front[order]
        if len(fs) > 1:
            parts.append((fs[1:] + fs[:-1]) / 2)  # bisection between neighbours of the front
        for scale in (self.step, self.step / 4):
            parts.append(np.repeat(front, 8, 0) + scale * self.rng.standard_normal((8 * len(front), n)))
        self.step = max(self.step * 0.8, 1e-3)
        return self.enc.decode(np.clip(np.vstack(parts), 0.0, 1.0))

    # -- ask / tell -----------------------------------------------------------------------------

    def ask(self) -> np.ndarray | None:
        if exhausted(self.problem):
            return None
        batch: list[np.ndarray] = []
        while self.pending and len(batch) < self.batch_size:
            x = self.pending.pop(0)
            if self._key(x) not in self.seen and all(self._key(x) != self._key(b) for b in batch):
                batch.append(x)
        if len(batch) < self.batch_size:
            batch += list(self._best(self.batch_size - len(batch), batch))
        return np.array(batch) if batch else None

    def _key(self, x: np.ndarray) -> tuple:
        return tuple(float(v) for v in self.problem.repair(np.asarray(x)[None])[0])

    def _best(self, n: int, taken: list[np.ndarray]) -> np.ndarray:
        """The ``n`` unevaluated candidates of largest expected HV gain (ties: smaller size);
        with estimates, the leaders are estimated until the first one has an estimate."""
        C = self._candidates()
        if self.E:
            C = np.vstack([C, [e[0] for e in self.E.values()]])
        C = self.problem.repair(C)
        keys = [tuple(map(float, c)) for c in C]
        skip = self.seen | {self._key(t) for t in taken}
        fresh = np.array([k not in skip for k in keys])
        C = np.unique(C[fresh], axis=0)
        if len(C) == 0:
            return np.zeros((0, len(self.enc.xl)))
        if len(self.F) < 2:
            return C[self.rng.choice(len(C), size=min(n, len(C)), replace=False)]
        ckeys = [tuple(map(float, c)) for c in C]  # C is repaired: these are its keys
        size = self._size_of(C)
        while True:
            gain, p_improve = self._gain(C, ckeys, size)
            gain = gain * self.rng.uniform(1.0 - self.jitter, 1.0, len(C))
            known = np.array([k in self.E for k in ckeys], dtype=bool)
            # ties (a flat tail gains nothing in expectation): unscreened first, then smaller size
            order = np.lexsort((size, known, -np.round(gain, 12)))
            lead = order[0]  # screened only when it probably adds nothing (a noisy tail's lottery)
            if not self.share or known[lead] or p_improve[lead] >= 0.5:
                return C[order[:n]]
            todo = order[~known[order]]
            room = int((self.budget - self.problem.spent - 1) / self.share)
            if room < 1:
                return C[order[:n]]
            X = C[todo[:min(self.estimate_batch, room)]]
            for x, f in zip(X, self.problem.estimate(X, self.share)):
                self.E[self._key(x)] = (x, float(f[0]), float(f[1]), float(f[2]))

    def _gain(self, C: np.ndarray, keys: list[tuple],
              size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected HV gain of each candidate (its decision ``key`` and K ``size`` given), and
        the probability that it adds to the front at all."""
        from scipy.stats import norm

        from wsbench.search.pareto import non_dominated

        U, Uc = self.enc.encode(self.X), self.enc.encode(C)
        Z = self.reference.normalise(self.F)
        h = self.h * np.sqrt(len(self.enc.xl))
        est = [self.E.get(k) for k in keys]
        has = np.array([e is not None for e in est], dtype=bool) & (len(self.R) > 0)
        on = [e for e in est if e is not None]
        Ue = np.vstack([U, self.enc.encode(np.array([e[0] for e in on]))]) if on else U
        ze = np.concatenate([Z[:, 0], [e[1] / self.reference.f1_max for e in on]])
        mean, spread = kernel_fit(Ue, ze, Uc, h)
        ratio = np.log2(np.maximum(self.F[:, 1], 1.0) / self._size_of(self.X))
        r_mean, _ = kernel_fit(U, ratio, Uc, h)
        d = np.maximum(size * np.exp2(np.minimum(r_mean, 0.0)), 1.0)
        if has.any():  # estimated: corrected by residuals at as much movement
            moved = np.array([[e[3]] for e in on])
            res_mean, res_spread = kernel_fit(self.R[:, :1], self.R[:, 1] / self.reference.f1_max,
                                              moved, MOVED_BANDWIDTH)
            mean[has] = ze[len(U):] + res_mean
            spread[has] = res_spread
            d[has] = [e[2] for e in on]
        z2 = self.reference.normalise(np.column_stack([np.zeros(len(C)), d]))[:, 1]
        front = Z[non_dominated(Z)]
        gain, hits = np.zeros(len(C)), np.zeros(len(C))
        for q in QUANTILES:
            z1 = mean + spread * norm.ppf(q)
            g = hv_gain(front, np.column_stack([z1, z2]))
            gain, hits = gain + g, hits + (g > 0)
        return gain / len(QUANTILES), hits / len(QUANTILES)

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.problem.n_var)
        F = np.asarray(F, dtype=np.float64).reshape(-1, 2)
        for x, f in zip(X, F):
            key = self._key(x)
            if key not in self.seen:
                self.seen.add(key)
                self.E.pop(key, None)
                self.X = np.vstack([self.X, x])
                self.F = np.vstack([self.F, f])
                if self.share:  # free: the full evaluation's predictions give the estimate
                    e = self.problem.estimate(x[None], self.share)[0]
                    self.R = np.vstack([self.R, [e[2], f[0] - e[0]]])


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("frontier", Frontier,
             "Sample-efficient: screening on the diagonal (K on log2), then the decision of "
             "largest expected HV gain under a kernel surrogate of the score and the size.")
