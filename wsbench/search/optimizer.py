"""The ask/tell contract every optimizer plugin follows, and the loop that drives it.

The driver owns the budget, counted in unique evaluations (plus the charged cost of any cheaper
estimates, the problem's ``spent``): it never lets a batch push the problem past it, and it
stops an optimizer that keeps proposing only cached decisions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Protocol

import numpy as np


class Problem(Protocol):
    n_var: int
    n_obj: int
    xl: np.ndarray
    xu: np.ndarray
    integer: np.ndarray
    unique: int
    requested: int
    space_size: float  # distinct decisions of an all-integer space, inf otherwise
    spent: float  # unique evaluations plus charged estimates (what the budget counts)

    def evaluate(self, X: np.ndarray) -> np.ndarray: ...

    def repair(self, X: np.ndarray) -> np.ndarray: ...

    def new_count(self, X: np.ndarray) -> int: ...


class Optimizer(ABC):
    """Subclass this: ``setup`` once, then alternate ``ask`` (a batch, or None when done) and ``tell``."""

    name: str = ""

    def check(self, problem: Problem) -> str | None:
        """Why this optimizer cannot run on ``problem`` (None when it can)."""
        return None

    @abstractmethod
    def setup(self, problem: Problem, seed: int, budget: int) -> None: ...

    @abstractmethod
    def ask(self) -> np.ndarray | None: ...

    @abstractmethod
    def tell(self, X: np.ndarray, F: np.ndarray) -> None: ...


def drive(optimizer: Optimizer, problem: Problem, *, budget: int, seed: int = 0,
          on_batch: Callable[[int], None] | None = None, max_requested: int | None = None,
          max_stale: int = 25) -> None:
    """Run ``optimizer`` on ``problem`` until ``budget`` unique evaluations (or it stops).

    ``max_requested`` also caps requests, cached or not (the paper's generations x population);
    ``max_stale`` stops an optimizer after that many batches that brought nothing new.
    """
    from wsbench.errors import ConfigError

    reason = optimizer.check(problem)
    if reason:
        raise ConfigError(f"optimizer {optimizer.name!r} cannot run here: {reason}")
    if budget < 1:
        raise ConfigError(f"budget must be at least 1 unique evaluation, got {budget}")
    optimizer.setup(problem, seed, budget)

    def spent() -> float:
        return float(getattr(problem, "spent", problem.unique))

    stale = 0
    while spent() < budget and (max_requested is None or problem.requested < max_requested):
        X = optimizer.ask()
        if X is None or len(X) == 0:
            break
        X = problem.repair(X)
        before = problem.unique
        remaining = int(np.floor(budget - spent() + 1e-9))
        if remaining < 1:
            break
        if problem.new_count(X) > remaining:
            _evaluate_within(problem, X, remaining)
            if on_batch:
                on_batch(problem.unique - before)
            break
        F = problem.evaluate(X)
        optimizer.tell(X, F)
        if on_batch:
            on_batch(problem.unique - before)
        stale = stale + 1 if problem.unique == before else 0
        if stale >= max_stale:
            break


def _evaluate_within(problem: Problem, X: np.ndarray, remaining: int) -> None:
    """Evaluate the batch's decisions in order, skipping new ones once the budget is spent."""
    for x in X:
        new = problem.new_count(x[None])
        if new <= remaining:
            problem.evaluate(x[None])
            remaining -= new
