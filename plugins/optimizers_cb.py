"""Centre-based NSGA-II (Rahnamayan et al.): centre-based initialisation and the centroid step.

Sampling near the centre of a region is, on average, closer to an unknown optimum than uniform
sampling. Two separate ingredients, so an ablation can tell them apart:

* ``cb-init-nsga2``: plain NSGA-II whose first population is centre-based (``init="centre"``).
* ``cb-nsga2``: the same initialisation plus the rank-block centroid step of clustering
  centre-based DE, applied to NSGA-II (REFERENCE.md section 2).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from wsbench_plugins.optimizers import NSGA2, PopSize

from wsbench import Problem, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Range
from wsbench.validate import MAX_POPULATION


def rank_order(rank: np.ndarray, crowding: np.ndarray) -> np.ndarray:
    """Indices from best to worst: by front rank, then by crowding distance, larger first."""
    return np.lexsort((-np.asarray(crowding, dtype=np.float64), np.asarray(rank, dtype=np.float64)))


def block_centroids(X: np.ndarray, order: np.ndarray, n_clusters: int,
                    integer: np.ndarray) -> np.ndarray:
    """Means of ``n_clusters`` contiguous blocks of ``X[order]``; integer variables rounded."""
    blocks = [b for b in np.array_split(np.asarray(order), n_clusters) if len(b)]
    C = np.array([X[b].mean(axis=0) for b in blocks], dtype=np.float64)
    C[:, integer] = np.rint(C[:, integer])
    return C


def _centroid_nsga2_class() -> type:
    """pymoo's NSGA-II with the centroid step (built lazily: pymoo is a heavy import)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
    from pymoo.core.population import Population

    class CentroidNSGA2(PymooNSGA2):
        """Every generation asks for the offspring followed by the rank-block centroids.

        The centroids are computed from the current population (sorted by front rank, then
        crowding distance descending, cut into ``n_clusters`` contiguous blocks); those that
        duplicate a member or an offspring are dropped. After evaluation, the centroids replace
        the same number of worst members, then the usual (mu + lambda) rank-and-crowding
        survival runs over that population and the offspring. The centroids are part of the
        asked batch, so their evaluations count against the budget like any other.
        """

        def __init__(self, n_clusters: int, integer: np.ndarray, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.n_clusters = int(n_clusters)
            self.integer_mask = np.asarray(integer, dtype=bool)
            self.n_centroids = 0

        def ranked(self) -> np.ndarray:
            return rank_order(self.pop.get("rank"), self.pop.get("crowding"))

        def _infill(self):
            off = super()._infill()
            if off is None:
                return None
            C = block_centroids(self.pop.get("X").astype(np.float64), self.ranked(),
                                self.n_clusters, self.integer_mask)
            centroids = self.eliminate_duplicates.do(Population.new(X=C), self.pop, off)
            self.n_centroids = len(centroids)
            return Population.merge(off, centroids) if len(centroids) else off

        def _advance(self, infills=None, **kwargs):
            n, self.n_centroids = self.n_centroids, 0
            off, centroids = infills[:len(infills) - n], infills[len(infills) - n:]
            survivors = self.pop[self.ranked()[:len(self.pop) - n]]
            merged = Population.merge(survivors, centroids, off) if n else Population.merge(survivors, off)
            self.pop = self.survival.do(self.problem, merged, n_survive=self.pop_size, algorithm=self,
                                        random_state=self.random_state, **kwargs)

    return CentroidNSGA2


NC_RATIO = 0.1  # NC/NP of the published rule (NP 100, NC 10)


def default_clusters(pop_size: int) -> int:
    """The published NC for a population: a tenth of it, rounded, at least one."""
    return max(1, int(round(NC_RATIO * pop_size)))


class CentreBasedNSGA2(NSGA2):
    """NSGA-II with centre-based initialisation and the rank-block centroid step.

    ``n_clusters`` (NC) centroids per generation, by default the published ratio NC/NP = 0.1
    (10 of 100; 2 of 20), at least 1;
    ``init`` is "centre" (default), "linear" or "random"; other options are NSGA-II's.
    """

    def __init__(self, pop_size: PopSize = 100,
                 n_clusters: Annotated[int | None, Range(1, MAX_POPULATION)] = None, init: str = "centre",
                 **options: Any) -> None:
        super().__init__(pop_size=pop_size, init=init, **options)
        if n_clusters is None:
            n_clusters = default_clusters(self.pop_size)
        if not 1 <= int(n_clusters) <= self.pop_size:
            raise ConfigError(f"n_clusters must be in [1, pop_size={self.pop_size}], got {n_clusters}")
        self.n_clusters = int(n_clusters)

    def build(self, problem: Problem) -> Any:
        return _centroid_nsga2_class()(n_clusters=self.n_clusters, integer=problem.integer,
                                       pop_size=self.pop_size, **self.operators(problem))


class CentreInitNSGA2(NSGA2):
    """Plain NSGA-II whose initial population is centre-based: the initialisation alone."""

    def __init__(self, pop_size: PopSize = 100, init: str = "centre", **options: Any) -> None:
        super().__init__(pop_size=pop_size, init=init, **options)


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("cb-nsga2", CentreBasedNSGA2,
             "Centre-based NSGA-II: centre-based initialisation plus, every generation, the "
             "centroids of rank blocks (a tenth of the population, as published) replacing "
             "as many of the worst (n_clusters, init).")
    register("cb-init-nsga2", CentreInitNSGA2,
             "NSGA-II with centre-based initialisation only (ablation of cb-nsga2).")
