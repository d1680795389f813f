"""Built-in optimizers of the foundation: NSGA-II (pymoo, ask/tell) and exhaustive enumeration."""

from __future__ import annotations

from typing import Any

import numpy as np

from wsbench.hookspecs import hookimpl
from wsbench.optimizer import Optimizer, Problem


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

    def ask(self) -> np.ndarray | None:
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
    """NSGA-II with the paper's settings; integer variables are rounded after each operator."""

    def __init__(self, pop_size: int = 100, crossover_prob: float = 0.9, crossover_eta: float = 15,
                 crossover_prob_var: float = 0.5, mutation_prob: float = 0.9,
                 mutation_eta: float = 20, init: str = "random") -> None:
        from wsbench.errors import ConfigError

        if init not in ("random", "linear"):
            raise ConfigError(f"init must be 'random' or 'linear', got {init!r}")
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
        repair = RoundingRepair() if integer else None
        extra = dict(vtype=float, repair=repair) if integer else {}
        if self.init == "linear":
            sampling = linear_sampling()
        else:
            sampling = IntegerRandomSampling() if integer else FloatRandomSampling()
        return dict(sampling=sampling, crossover=SBX(**self.sbx, **extra),
                    mutation=PM(**self.pm, **extra), eliminate_duplicates=True)

    def build(self, problem: Problem) -> Any:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2

        return PymooNSGA2(pop_size=self.pop_size, **self.operators(problem))


class Exhaustive(Optimizer):
    """Every point of an all-integer space, in batches: the exact front where that is affordable."""

    def __init__(self, batch_size: int = 64, max_points: int = 100_000) -> None:
        self.batch_size = int(batch_size)
        self.max_points = int(max_points)

    def check(self, problem: Problem) -> str | None:
        if not np.all(problem.integer):
            return "exhaustive needs an all-integer space"
        size = float(np.prod(problem.xu - problem.xl + 1))
        if size > self.max_points:
            return f"the space has {size:.3g} points, more than max_points={self.max_points}"
        return None

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        axes = [np.arange(lo, hi + 1) for lo, hi in zip(problem.xl, problem.xu)]
        self._points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, problem.n_var)
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
    register("exhaustive", Exhaustive, "Evaluates every integer decision: the exact front.")
