"""Single-objective optimizers (CMA-ES, PSO) made comparable with the multi-objective ones.

As COCO's bbob-biobj comparisons do, a single-objective optimizer splits its budget over
``n_weights`` augmented-Chebyshev scalarisations and starts afresh for each; every evaluation
lands in the same archive, so the indicators judge it like any other optimizer.

Fixed choices (documented because results depend on them):

* Objectives are normalised with the problem's bounds, never with data, by the indicators'
  own :class:`wsbench.experiments.indicators.Reference`: z1 = f1 (1 - metric, already in [0, 1]) and
  z2 = log2(d) / log2(d_max) (``d_scale="log2"``, default) or d / d_max (``"linear"``), with
  d_max the K of the upper bounds (:func:`d_max`). log2 by default because the benchmark's
  hypervolume is measured on that scale: with it, evenly spread weights land evenly along the
  part of the front the indicator rewards (d below ~100), instead of all near the accurate end.
* Scalarisations are chosen where the front still has room, not fixed in advance. Fixed
  weights (w1 = 0.9 ... 0.1) had their optima at d = 11, 9, 8, 7, 2 on the digits front and
  none in its accurate leg (d = 14-73), whose points differ in z1 by less than 0.01: on such an
  L-shaped front only weight ratios near 100 reach them. Each sub-search instead minimises a
  *box* Chebyshev: between two neighbours a, b of the archive's front (sorted by z2; the
  virtual anchors (ref1, 0) and (0, ref2) close both ends) with corner c = (b1, a2) and
  upper corner u = (a1, b2), s(z) = max_i (z_i - c_i) / (u_i - c_i) + rho * sum_i (same).
  Points inside the box score below 1 and a, b score 1, so a sub-search fills that gap. The
  box searched is the untried one of largest area, which bounds the hypervolume a point in it
  can add. The first box spans the whole unit box (plain Chebyshev, equal weights).
* Both search the unit cube. An integer variable with a lower bound >= 1 (K) is encoded on a
  log2 scale, continuous, and rounded only when decoded: CMA-ES never sees
  ``integer_variables`` (it crashes in 1-D in cma 4.5) and a step in the code is a relative
  change of K, so the rounding plateaus are short where K is small.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated

import numpy as np
from wsbench_plugins.optimizers import exhausted
from wsbench_plugins.scalarise import Box, box_chebyshev, gap_boxes, next_box  # noqa: F401

from wsbench import Optimizer, Problem, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Range
from wsbench.validate import MAX_POPULATION

Weights = Annotated[int, Range(1, 1000)]                     # sub-searches of a round
Rho = Annotated[float, Range(0.0, 1.0, hi_open=True)]         # augmented-Chebyshev weight
Stale = Annotated[int, Range(1, 10_000)]                      # batches with nothing new
Unit = Annotated[float, Range(0.0, 1.0, lo_open=True)]        # a step on the unit cube
Coefficient = Annotated[float, Range(0.0, 10.0)]              # PSO's c1, c2 and w


def d_max(problem: Problem) -> float:
    """Largest possible f2 = d: the K of the upper bounds (``space.k_of`` when known).

    Without a space, the sum of the integer upper bounds, which is that K for the built-in
    spaces (k, k-clip, layerwise-k).
    """
    space = getattr(problem, "space", None)
    if space is not None and hasattr(space, "k_of"):
        return float(max(2, space.k_of(np.asarray(problem.xu, dtype=np.float64))))
    xu = np.asarray(problem.xu, dtype=np.float64)[np.asarray(problem.integer, dtype=bool)]
    return float(max(2.0, xu.sum()))


class UnitEncoding:
    """Maps the unit cube onto the bounds; integer variables with xl >= 1 on a log2 scale."""

    def __init__(self, xl: np.ndarray, xu: np.ndarray, integer: np.ndarray) -> None:
        self.xl = np.asarray(xl, dtype=np.float64)
        self.xu = np.asarray(xu, dtype=np.float64)
        self.integer = np.asarray(integer, dtype=bool)
        self.log = self.integer & (self.xl >= 1) & (self.xu > self.xl)
        self.lo = np.where(self.log, np.log2(np.maximum(self.xl, 1)), self.xl)
        self.hi = np.where(self.log, np.log2(np.maximum(self.xu, 1)), self.xu)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Unit-cube points of decisions (rows): the inverse of :meth:`decode` up to rounding."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        Y = np.where(self.log, np.log2(np.maximum(X, 1.0)), X)
        return (Y - self.lo) / np.where(self.hi > self.lo, self.hi - self.lo, 1.0)

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Decisions for unit-cube points (rows); integer variables rounded, inside the bounds."""
        Z = np.clip(np.atleast_2d(np.asarray(Z, dtype=np.float64))[:, :len(self.xl)], 0.0, 1.0)
        Y = self.lo + Z * (self.hi - self.lo)
        Y[:, self.log] = np.exp2(Y[:, self.log])
        Y[:, self.integer] = np.rint(Y[:, self.integer])
        return np.clip(Y, self.xl, self.xu)


class ScalarizedOptimizer(Optimizer):
    """Runs a fresh single-objective search per gap of the front, each with its budget share.

    ``n_weights`` sub-searches make a round (the name is kept from fixed weight vectors). A
    search ends when it has used its share of unique evaluations (the remaining budget split
    evenly over the searches left in the round), when it stops by itself, or after
    ``stale_batches`` batches that brought nothing new. Then the next box is chosen from the
    archive (:func:`next_box`), with a fresh seed, so a small space never stalls the driver.
    """

    def __init__(self, n_weights: Weights = 5, rho: Rho = 1e-3, stale_batches: Stale = 5,
                 d_scale: str = "log2") -> None:
        from wsbench.experiments.indicators import D_SCALES

        if d_scale not in D_SCALES:
            raise ConfigError(f"d_scale must be one of {', '.join(D_SCALES)}, got {d_scale!r}")
        self.d_scale = d_scale
        if int(n_weights) < 1:
            raise ConfigError(f"n_weights must be at least 1, got {n_weights}")
        if not 0 <= float(rho) < 1:
            raise ConfigError(f"rho must be in [0, 1), got {rho}")
        if int(stale_batches) < 1:
            raise ConfigError(f"stale_batches must be at least 1, got {stale_batches}")
        self.n_weights, self.rho, self.stale_batches = int(n_weights), float(rho), int(stale_batches)

    def check(self, problem: Problem) -> str | None:
        return None if problem.n_obj == 2 else f"scalarises 2 objectives, got {problem.n_obj}"

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        from wsbench.experiments.indicators import Reference

        self.problem, self.budget = problem, int(budget)
        self.encoding = UnitEncoding(problem.xl, problem.xu, problem.integer)
        self.dim = len(self.encoding.xl)
        self.reference = Reference(f1_max=1.0, d_scale=self.d_scale, d_max=d_max(problem))
        self._tried: set = set()
        self._told: list[np.ndarray] = [np.zeros((0, 2))]  # every objective vector told so far
        self._seeds = np.random.SeedSequence(int(seed))
        self.runs: list[dict] = []  # one record per search: box, share, unique used
        self._next_run()

    def _next_run(self) -> None:
        slot = len(self.runs) % self.n_weights
        remaining = max(self.budget - self.problem.unique, 0)
        share = max(1, -(-remaining // (self.n_weights - slot)))
        box = next_box(self.reference.normalise(np.concatenate(self._told)), self._tried)
        self._tried.add(box)
        self.runs.append(dict(box=box, share=share, start=self.problem.unique, used=0))
        self._stale = 0
        self._start(np.random.default_rng(self._seeds.spawn(1)[0]))

    def scalarise(self, F: np.ndarray) -> np.ndarray:
        """The box Chebyshev of the current search on the fixed normalisation of ``F``."""
        return box_chebyshev(self.reference.normalise(F), self.runs[-1]["box"], self.rho)

    def ask(self) -> np.ndarray | None:
        if exhausted(self.problem):
            return None
        run = self.runs[-1]
        if run["used"] >= run["share"] or self._stale >= self.stale_batches or self._finished():
            self._next_run()
        self._unique_at_ask = self.problem.unique
        return self.encoding.decode(self._ask_unit())

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        new = self.problem.unique - self._unique_at_ask
        self.runs[-1]["used"] = self.problem.unique - self.runs[-1]["start"]
        self._stale = 0 if new else self._stale + 1
        self._told.append(np.asarray(F, dtype=np.float64).reshape(-1, 2))
        self._tell_unit(self.scalarise(F))

    @abstractmethod
    def _start(self, rng: np.random.Generator) -> None:
        """Start a fresh search in the unit cube, drawing every random number from ``rng``."""

    @abstractmethod
    def _ask_unit(self) -> np.ndarray:
        """The next batch as unit-cube points (extra columns beyond ``dim`` are ignored)."""

    @abstractmethod
    def _tell_unit(self, cost: np.ndarray) -> None: ...

    def _finished(self) -> bool:
        return False


class CMAES(ScalarizedOptimizer):
    """CMA-ES (``cma``) per scalarisation, restarted from a random point for each weight.

    A 1-D space gets a dummy second coordinate that decoding ignores (CMA-ES is not meant for
    1-D); the Gaussian samples come from a seeded Generator through cma's ``randn`` option, so
    numpy's global random state is neither read nor reseeded.
    """

    def __init__(self, n_weights: Weights = 5, sigma0: Unit = 0.3,
                 popsize: Annotated[int | None, Range(2, MAX_POPULATION)] = None,
                 rho: Rho = 1e-3, stale_batches: Stale = 5, d_scale: str = "log2") -> None:
        super().__init__(n_weights, rho, stale_batches, d_scale)
        if not 0 < float(sigma0) <= 1:
            raise ConfigError(f"sigma0 must be in (0, 1] (unit-cube units), got {sigma0}")
        if popsize is not None and int(popsize) < 2:
            raise ConfigError(f"popsize must be at least 2, got {popsize}")
        self.sigma0, self.popsize = float(sigma0), None if popsize is None else int(popsize)

    def _start(self, rng: np.random.Generator) -> None:
        import cma

        n = max(2, self.dim)
        opts = {"bounds": [0.0, 1.0], "randn": lambda *shape: rng.standard_normal(shape),
                "seed": float("nan"), "verbose": -9, "verb_log": 0, "verb_disp": 0,
                "tolflatfitness": 5}
        if self.popsize:
            opts["popsize"] = self.popsize
        self.es = cma.CMAEvolutionStrategy(rng.uniform(0.1, 0.9, n), self.sigma0, opts)

    def _ask_unit(self) -> np.ndarray:
        self._Z = self.es.ask()
        return np.array(self._Z)

    def _tell_unit(self, cost: np.ndarray) -> None:
        self.es.tell(self._Z, [float(c) for c in cost])

    def _finished(self) -> bool:
        return bool(self.es.stop())


class PSO(ScalarizedOptimizer):
    """Global-best PSO (pyswarms' Star topology and position update) per scalarisation.

    pyswarms has no ask/tell, so this keeps a ``pyswarms.backend`` Swarm and steps it in
    ``tell``: personal and global bests by pyswarms (``compute_pbest``, ``Star``), the
    velocity by the same formula as ``compute_velocity`` but with a seeded Generator (pyswarms
    draws from numpy's global state), velocity clamped to +-``v_max``, and positions by
    ``compute_position`` with a ``nearest`` (default) or ``reflective`` boundary handler:
    pyswarms' default "periodic" wraps a particle leaving at K = 1024 round to K = 2, so it is
    refused. "nearest" stops particles on a bound, where optima of this problem often are
    (K = 2 for d-heavy weights, no clipping); "reflective" throws them back by the overshoot.
    """

    STRATEGIES = ("nearest", "reflective")

    def __init__(self, n_weights: Weights = 5,
                 n_particles: Annotated[int, Range(2, MAX_POPULATION)] = 20,
                 c1: Coefficient = 1.49618, c2: Coefficient = 1.49618, w: Coefficient = 0.7298,
                 v_max: Unit = 0.25, bh_strategy: str = "nearest", rho: Rho = 1e-3,
                 stale_batches: Stale = 5, d_scale: str = "log2") -> None:
        super().__init__(n_weights, rho, stale_batches, d_scale)
        if bh_strategy not in self.STRATEGIES:
            raise ConfigError(f"bh_strategy must be 'nearest' or 'reflective' (pyswarms' 'periodic' "
                              f"wraps around the bounds), got {bh_strategy!r}")
        if int(n_particles) < 2:
            raise ConfigError(f"n_particles must be at least 2, got {n_particles}")
        if not 0 < float(v_max) <= 1:
            raise ConfigError(f"v_max must be in (0, 1] (unit-cube units), got {v_max}")
        self.n_particles, self.v_max, self.bh_strategy = int(n_particles), float(v_max), bh_strategy
        self.coefficients = {"c1": float(c1), "c2": float(c2), "w": float(w)}

    def _start(self, rng: np.random.Generator) -> None:
        from pyswarms.backend.handlers import BoundaryHandler
        from pyswarms.backend.swarms import Swarm
        from pyswarms.backend.topology import Star

        shape = (self.n_particles, self.dim)
        self._rng = rng
        self.swarm = Swarm(position=rng.random(shape),
                           velocity=rng.uniform(-self.v_max, self.v_max, shape),
                           options=dict(self.coefficients))
        self.swarm.pbest_cost = np.full(self.n_particles, np.inf)
        self.topology = Star()
        self.handler = BoundaryHandler(strategy=self.bh_strategy)

    def _ask_unit(self) -> np.ndarray:
        return self.swarm.position.copy()

    def _tell_unit(self, cost: np.ndarray) -> None:
        from pyswarms.backend.operators import compute_pbest, compute_position

        s, o = self.swarm, self.coefficients
        s.current_cost = np.asarray(cost, dtype=np.float64)
        s.pbest_pos, s.pbest_cost = compute_pbest(s)
        s.best_pos, s.best_cost = self.topology.compute_gbest(s)
        r1, r2 = self._rng.random(s.position.shape), self._rng.random(s.position.shape)
        velocity = (o["w"] * s.velocity + o["c1"] * r1 * (s.pbest_pos - s.position)
                    + o["c2"] * r2 * (s.best_pos - s.position))
        s.velocity = np.clip(velocity, -self.v_max, self.v_max)
        bounds = (np.zeros(self.dim), np.ones(self.dim))
        s.position = compute_position(s, bounds, self.handler)


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("cmaes", CMAES,
             "CMA-ES (cma) restarted per gap of the front (box Chebyshev, n_weights=5 per round), "
             "K on a log2 scale, budget split evenly.")
    register("pso", PSO,
             "Global-best PSO (pyswarms backend, bounds 'nearest') per gap of the front (box "
             "Chebyshev, n_weights=5 per round), budget split evenly.")
