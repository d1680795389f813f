"""An example wsbench plugin: a seeded Pareto hill-climber (mutates non-dominated decisions)."""

import numpy as np

from wsbench import Optimizer, hookimpl, non_dominated


class HillClimber(Optimizer):
    """Starts from random decisions, then each batch mutates non-dominated ones seen so far."""

    def __init__(self, batch_size: int = 10, step: float = 0.1) -> None:
        self.batch_size, self.step = int(batch_size), float(step)

    def setup(self, problem, seed: int, budget: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.xl, self.xu, self.integer = problem.xl, problem.xu, problem.integer
        self.X, self.F = self.rng.uniform(self.xl, self.xu, (self.batch_size, len(self.xl))), None

    def ask(self) -> np.ndarray:
        if self.F is None:
            X = self.X
        else:
            front = self.X[non_dominated(self.F)]
            parents = front[self.rng.integers(len(front), size=self.batch_size)]
            X = parents + self.rng.normal(0, self.step, parents.shape) * (self.xu - self.xl)
        X = np.clip(X, self.xl, self.xu)
        X[:, self.integer] = np.rint(X[:, self.integer])
        return X

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        first = self.F is None
        self.X, self.F = (X, F) if first else (np.vstack([self.X, X]), np.vstack([self.F, F]))


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("example-hillclimb", HillClimber, "Example plugin: mutates non-dominated decisions.")
