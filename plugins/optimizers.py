"""Built-in optimizers: NSGA-II and NSGA-III (pymoo, ask/tell), random search, exhaustive enumeration.

The centre-based NSGA-II variants live in ``optimizers_cb.py``, the single-objective ones
(CMA-ES, PSO over augmented-Chebyshev scalarisations) in ``optimizers_single.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from wsbench import Optimizer, Problem, hookimpl
from wsbench.options import Population, Range, Share
from wsbench.validate import MAX_POPULATION


PopSize = Annotated[int, Range(2, MAX_POPULATION)]  # individuals of one generation
Eta = Annotated[float, Range(0.0, 1000.0)]   # a distribution index of SBX or PM (pymoo: 15, 20)
Listed = Annotated[int, Range(0, 10_000_000)]  # the largest space listed point by point


def linear_sampling() -> Any:
    """Paper's Algorithm 1 initialisation: values evenly spaced over each variable's bounds."""
    from pymoo.core.sampling import Sampling

    class LinearSampling(Sampling):
        def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
            grid = np.linspace(problem.xl, problem.xu, n_samples)
            for j in range(1, grid.shape[1]):  # decorrelate variables beyond the first
                grid[:, j] = random_state.permutation(grid[:, j])
            return grid

    return LinearSampling()


def centre_sampling(integer: np.ndarray) -> Any:
    """Centre-based sampling (Rahnamayan et al.): a uniform point pulled towards the centre.

    Each sample is ``c + r (u - c)`` with ``u`` uniform in the bounds, ``c`` their centre and
    ``r ~ U(0, 1)`` per sample, so the density rises towards the centre, where an unknown optimum
    is on average closest. Integer variables are rounded so duplicates can be eliminated.
    """
    from pymoo.core.sampling import Sampling

    mask = np.asarray(integer, dtype=bool).copy()

    class CentreSampling(Sampling):
        def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
            centre = (problem.xl + problem.xu) / 2
            u = random_state.uniform(problem.xl, problem.xu, (n_samples, problem.n_var))
            X = centre + random_state.random((n_samples, 1)) * (u - centre)
            X[:, mask] = np.rint(X[:, mask])
            return X

    return CentreSampling()


def masked_rounding(integer: np.ndarray) -> Any:
    """A pymoo repair that rounds only the integer variables of a mixed space."""
    from pymoo.core.repair import Repair

    mask = np.asarray(integer, dtype=bool).copy()

    class MaskedRounding(Repair):
        def _do(self, problem, X, **kwargs):
            X = np.asarray(X, dtype=np.float64).copy()
            X[:, mask] = np.rint(X[:, mask])
            return X

    return MaskedRounding()


def exhausted(problem: Problem) -> bool:
    """True once every decision of an all-integer space has been evaluated in this problem."""
    return problem.unique >= problem.space_size  # inf unless all-integer


def all_decisions(problem: Problem) -> np.ndarray:
    """Every decision of an all-integer space, one row each (callers bound its size first)."""
    axes = [np.arange(lo, hi + 1) for lo, hi in zip(problem.xl, problem.xu)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, problem.n_var).astype(np.float64)


INITS = ("random", "linear", "centre")


class PymooOptimizer(Optimizer):
    """Drives any pymoo algorithm through its ask/tell interface."""

    max_empty_asks = 10

    def build(self, problem: Problem) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        from pymoo.core.problem import Problem as PymooProblem
        from pymoo.core.termination import NoTermination

        pproblem = PymooProblem(n_var=problem.n_var, n_obj=problem.n_obj,
                                xl=problem.xl, xu=problem.xu)
        self.algorithm = self.build(problem)
        self.algorithm.setup(pproblem, termination=NoTermination(), seed=int(seed), verbose=False)
        self._pop = None
        self._problem = problem

    def ask(self) -> np.ndarray | None:
        if exhausted(self._problem):  # mating could only spin on duplicates
            return None
        for _ in range(self.max_empty_asks):  # pymoo may return nothing on small discrete spaces
            pop = self.algorithm.ask()
            if pop is not None and len(pop):
                self._pop = pop
                return pop.get("X")
        return None

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        self._pop.set("X", X)
        self._pop.set("F", F)
        self.algorithm.tell(infills=self._pop)


class NSGA2(PymooOptimizer):
    """NSGA-II with the paper's settings; integer variables are rounded after each operator.

    ``init``: "random" (the authors' code), "linear" (the paper's Algorithm 1) or "centre"
    (centre-based sampling, see :func:`centre_sampling`).
    """

    def __init__(self, pop_size: PopSize = 100, crossover_prob: Share = 0.9,
                 crossover_eta: Eta = 15, crossover_prob_var: Share = 0.5,
                 mutation_prob: Share = 0.9, mutation_eta: Eta = 20, init: str = "random") -> None:
        from wsbench.errors import ConfigError

        if init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
        if pop_size < 2:
            raise ConfigError(f"pop_size must be at least 2, got {pop_size}")
        self.pop_size = int(pop_size)
        self.sbx = dict(prob=crossover_prob, eta=crossover_eta, prob_var=crossover_prob_var)
        self.pm = dict(prob=mutation_prob, eta=mutation_eta)
        self.init = init

    def operators(self, problem: Problem) -> dict[str, Any]:
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import FloatRandomSampling, IntegerRandomSampling

        integer = bool(np.all(problem.integer))
        if integer:
            repair = RoundingRepair()
        elif np.any(problem.integer):  # mixed space: round only the integer variables
            repair = masked_rounding(problem.integer)
        else:
            repair = None
        extra = dict(vtype=float, repair=repair) if repair is not None else {}
        if self.init == "linear":
            sampling = linear_sampling()
        elif self.init == "centre":
            sampling = centre_sampling(problem.integer)
        else:
            sampling = IntegerRandomSampling() if integer else FloatRandomSampling()
        return dict(sampling=sampling, crossover=SBX(**self.sbx, **extra),
                    mutation=PM(**self.pm, **extra), eliminate_duplicates=True, repair=repair)

    def build(self, problem: Problem) -> Any:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2

        return PymooNSGA2(pop_size=self.pop_size, **self.operators(problem))


class NSGA3(NSGA2):
    """NSGA-III: NSGA-II's operators, survival by Das-Dennis reference directions.

    ``n_partitions`` defaults to ``pop_size - 1``, i.e. one reference direction per individual.
    """

    def __init__(self, pop_size: PopSize = 100,
                 n_partitions: Annotated[int | None, Range(1, MAX_POPULATION)] = None,
                 **options: Any) -> None:
        from wsbench.errors import ConfigError

        super().__init__(pop_size=pop_size, **options)
        self.n_partitions = self.pop_size - 1 if n_partitions is None else int(n_partitions)
        if self.n_partitions < 1:
            raise ConfigError(f"n_partitions must be at least 1, got {n_partitions}")

    def build(self, problem: Problem) -> Any:
        from pymoo.algorithms.moo.nsga3 import NSGA3 as PymooNSGA3
        from pymoo.util.ref_dirs import get_reference_directions

        ref_dirs = get_reference_directions("das-dennis", problem.n_obj, n_partitions=self.n_partitions)
        return PymooNSGA3(ref_dirs=ref_dirs, pop_size=self.pop_size, **self.operators(problem))


class RandomSearch(Optimizer):
    """Uniform random decisions (integers uniform over their values), seeded: the baseline."""

    def __init__(self, batch_size: Population = 100) -> None:
        from wsbench.errors import ConfigError

        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        self._problem = problem
        self._rng = np.random.default_rng(seed)
        self._xl, self._xu = np.asarray(problem.xl, float), np.asarray(problem.xu, float)
        self._integer = np.asarray(problem.integer, bool)

    def ask(self) -> np.ndarray | None:
        if exhausted(self._problem):
            return None
        shape = (self.batch_size, len(self._xl))
        X = self._rng.uniform(self._xl, self._xu, shape)
        if self._integer.any():
            lo = self._xl[self._integer].astype(np.int64)
            hi = self._xu[self._integer].astype(np.int64)
            X[:, self._integer] = self._rng.integers(lo, hi, (self.batch_size, len(lo)), endpoint=True)
        return X

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        pass


class Exhaustive(Optimizer):
    """Every point of an all-integer space, in batches: the exact front where that is affordable."""

    def __init__(self, batch_size: Population = 64,
                 max_points: Listed = 100_000) -> None:
        self.batch_size = int(batch_size)
        self.max_points = int(max_points)

    def check(self, problem: Problem) -> str | None:
        if not np.all(problem.integer):
            return "exhaustive needs an all-integer space"
        size = problem.space_size
        if size > self.max_points:
            return f"the space has {size:.3g} points, more than max_points={self.max_points}"
        return None

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        self._points = all_decisions(problem)
        self._next = 0

    def ask(self) -> np.ndarray | None:
        if self._next >= len(self._points):
            return None
        batch = self._points[self._next:self._next + self.batch_size]
        self._next += len(batch)
        return batch.astype(np.float64)

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        pass


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("nsga2", NSGA2, "NSGA-II (pymoo), paper settings: pop 100, SBX 0.9/15, PM 0.9/20.")
    register("nsga3", NSGA3, "NSGA-III (pymoo), Das-Dennis directions, NSGA-II's operators, pop 100.")
    register("random", RandomSearch, "Uniform random decisions in batches of 100, seeded (baseline).")
    register("exhaustive", Exhaustive, "Evaluates every integer decision: the exact front.")
