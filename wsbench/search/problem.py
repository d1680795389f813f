"""A batch-evaluating problem with a decision cache and an archive of every evaluation.

Optimizers only see ``n_var``, ``xl``, ``xu``, ``integer`` and ``evaluate(X)``. The cache makes
a repeated decision free, so budgets are counted in unique evaluations; the archive records
every request (cached or not) for the fair-comparison indicators. A problem that offers cheaper,
approximate evaluations (the harness's ``estimate``) charges them with :meth:`CachedProblem.charge`,
and ``spent`` (unique evaluations plus those charges) is what budgets and anytime views count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from wsbench.search.pareto import non_dominated


@dataclass
class Evaluation:
    x: tuple[float, ...]
    f: tuple[float, ...]
    cached: bool
    seconds: float
    unique_index: int  # number of unique evaluations once this one was done
    cost: float = 0.0  # evaluations spent once this one was done (estimates included)


class CachedProblem:
    """Base class: subclasses implement ``_evaluate_one(x) -> objectives``."""

    n_obj = 2

    def __init__(self, xl: np.ndarray, xu: np.ndarray, integer: np.ndarray,
                 cache: dict | None = None, cache_prefix: tuple = ()) -> None:
        self.xl = np.asarray(xl, dtype=np.float64)
        self.xu = np.asarray(xu, dtype=np.float64)
        self.integer = np.asarray(integer, dtype=bool)
        self.cache: dict = {} if cache is None else cache
        self.cache_prefix = cache_prefix
        self.archive: list[Evaluation] = []
        self.requested = 0
        self.unique = 0
        self.charged = 0.0  # cheaper evaluations (estimates), in full evaluations

    @property
    def spent(self) -> float:
        """What the search cost so far, in full evaluations: unique ones plus charged estimates."""
        return self.unique + self.charged

    def charge(self, cost: float) -> None:
        """Count ``cost`` full evaluations' worth of cheaper work against the budget."""
        self.charged += float(cost)

    @property
    def n_var(self) -> int:
        return len(self.xl)

    @property
    def space_size(self) -> float:
        """Number of distinct decisions of an all-integer space (inf otherwise): what caps a
        budget, a progress bar and an exhaustive sweep."""
        if not np.all(self.integer):
            return float("inf")
        return float(np.prod(self.xu - self.xl + 1))

    def reset(self) -> None:
        """Forget every evaluation: a new, empty decision cache (a shared one is left to its other
        users), an empty archive and zeroed counters, so a second search counts from zero."""
        self.cache = {}
        self.archive = []
        self.requested = self.unique = 0
        self.charged = 0.0

    def repair(self, X: np.ndarray) -> np.ndarray:
        """Clip into the bounds and round the integer variables."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64)).copy()
        X = np.clip(X, self.xl, self.xu)
        X[:, self.integer] = np.rint(X[:, self.integer])
        return X

    def _key(self, x: np.ndarray) -> tuple:
        return self.cache_prefix + tuple(float(v) for v in x)

    def new_count(self, X: np.ndarray) -> int:
        """How many distinct, not yet cached decisions a batch holds."""
        return len({self._key(x) for x in self.repair(X)} - self.cache.keys())

    def _evaluate_one(self, x: np.ndarray) -> tuple[float, ...]:
        raise NotImplementedError

    def _evaluate_many(self, X: np.ndarray) -> list[tuple[float, ...]] | None:
        """Objectives of several new, distinct decisions at once (None: evaluate one by one).

        Subclasses that can score a whole population in one batched pass override this.
        """
        return None

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Objectives of a batch of decisions (repaired first); one row per decision."""
        X = self.repair(X)
        keys = [self._key(x) for x in X]
        fresh = {key: i for i, key in reversed(list(enumerate(keys))) if key not in self.cache}
        pending: dict[tuple, tuple[tuple[float, ...], float]] = {}
        if len(fresh) > 1:
            rows = sorted(fresh.values())
            start = time.perf_counter()
            many = self._evaluate_many(X[rows])
            if many is not None:
                share = (time.perf_counter() - start) / len(rows)
                pending = {keys[i]: (tuple(float(v) for v in f), share) for i, f in zip(rows, many)}
        F = np.empty((len(X), self.n_obj))
        for i, (x, key) in enumerate(zip(X, keys)):
            start = time.perf_counter()
            cached = key in self.cache
            extra = 0.0
            if not cached:
                if key in pending:
                    self.cache[key], extra = pending[key]
                else:
                    self.cache[key] = tuple(float(v) for v in self._evaluate_one(x))
                self.unique += 1
            F[i] = self.cache[key]
            self.requested += 1
            self.archive.append(Evaluation(tuple(map(float, x)), tuple(F[i]), cached,
                                           time.perf_counter() - start + extra, self.unique,
                                           self.spent))
        return F

    def archive_arrays(self, unique_only: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(X, F) of the archive, each distinct decision once when ``unique_only``."""
        rows = [e for e in self.archive if not (unique_only and e.cached)]
        if not rows:
            return np.zeros((0, self.n_var)), np.zeros((0, self.n_obj))
        return np.array([e.x for e in rows]), np.array([e.f for e in rows])

    def front(self) -> tuple[np.ndarray, np.ndarray]:
        """The non-dominated decisions of everything evaluated so far, sorted by f1."""
        X, F = self.archive_arrays()
        mask = non_dominated(F)
        X, F = X[mask], F[mask]
        order = np.lexsort((F[:, 1], F[:, 0]))
        return X[order], F[order]
