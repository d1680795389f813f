"""Separable rate-distortion allocation: measure each variable alone, then combine them.

The classic answer to "how many bits for each layer" (bit allocation in transform coding, and
mixed-precision quantization): if the error and the size of a decision are close to sums of
per-variable terms, one sweep of every variable alone, from a fine reference decision, gives
those terms, and a Lagrangian multiplier turns them into the whole trade-off curve at once
(each variable independently minimises ``delta_error + mu * delta_size``). Here it is an
ask/tell optimizer, so it runs on any integer space (one qp per tensor, one K per layer) and
any fitness harness, and spends the budget in three phases:

1. **Reference**: the decisions at the lower and at the upper bounds; the one with the smaller
   error is the reference (for qp the lowest, for K the largest).
2. **Sweep**: each variable alone over at most ``levels`` values of its range (both ends
   included), the others at the reference: ``n_var * (levels - 1)`` evaluations.
3. **Allocate**: per variable, the measured error deltas are made monotone in size (a coarser
   value never helps: noise removed) and their lower convex hull gives the multipliers where the
   choice changes; up to ``lambdas`` multipliers, spread over that range, give decisions.
4. **Refine** with whatever budget is left: the error is not exactly additive, so neighbours of
   the front (one variable one step finer or coarser, on a grid four times finer than the
   sweep's) are evaluated, the front's points taken in turn (round robin, from the most accurate
   down), which corrects the model where the front is.

With ``diagonal=True`` phases 1-3 are replaced by the *diagonal*: every decision with one value
for all variables (on the refinement grid), i.e. the one-value-for-all method's whole front, and
the budget left refines from there; many errors that do not add (a transformer's 17 tensors)
make the multiplier's picks worse than their sweeps said, while a step from one value for all
is measured, not predicted. ``within`` keeps refinement to the front points whose error is
within that much of the best error found, the coarsest first: the stretch a selection within
a drop looks at, instead of the most accurate points first. Refinement stops, with budget
left, once no point of that stretch has an unevaluated neighbour.

Deterministic: ``seed`` changes nothing, so one seed measures it.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from wsbench import Optimizer, Problem, hookimpl, non_dominated
from wsbench.errors import ConfigError
from wsbench.options import Range


def grid(lo: float, hi: float, levels: int) -> np.ndarray:
    """At most ``levels`` distinct integers from ``lo`` to ``hi``, evenly spread, ends included."""
    return np.unique(np.rint(np.linspace(lo, hi, max(2, levels))))


def monotone(sizes: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Error deltas made non-increasing in size: going coarser never lowers the error."""
    order = np.argsort(-sizes, kind="stable")  # fine (large) to coarse (small)
    out = errors.copy()
    out[order] = np.maximum.accumulate(errors[order])
    return out


def hull_slopes(sizes: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """The multipliers mu >= 0 at which ``argmin errors + mu * sizes`` changes (lower hull)."""
    pts = sorted(zip(sizes, errors))
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) <= 0:
            hull.pop()
        hull.append(p)
    slopes = [-(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(hull, hull[1:]) if b[0] > a[0]]
    return np.array([s for s in slopes if s > 0], dtype=np.float64)


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


class Allocate(Optimizer):
    """Per-variable sensitivities and Lagrangian allocation (see the module docstring)."""

    name = "allocate"

    def __init__(self, levels: Annotated[int, Range(2, 4096)] = 8,
                 lambdas: Annotated[int, Range(1, 10_000)] = 24, refine: bool = True,
                 diagonal: bool = False, within: Annotated[float, Range(0.0, 1.0)] | None = None) -> None:
        for key, value, least in (("levels", levels, 2), ("lambdas", lambdas, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{key} must be an integer >= {least}, got {value!r}")
        self.levels, self.lambdas, self.refine = levels, lambdas, bool(refine)
        self.diagonal, self.within = bool(diagonal), within

    def check(self, problem: Problem) -> str | None:
        if not np.all(problem.integer) or problem.n_obj != 2:
            return "it needs an all-integer space and two objectives (error, size)"
        if self.diagonal and (np.ptp(problem.xl) or np.ptp(problem.xu)):
            return "diagonal=true needs every variable to have the same range"
        return None

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        self.problem, self.turn = problem, 0
        n = problem.n_var
        room = max(2, (budget - 2 - min(self.lambdas, budget // 4)) // max(1, n) + 1)
        levels = min(self.levels, room)  # a small budget sweeps fewer values, never none
        self.grids = [grid(lo, hi, levels) for lo, hi in zip(problem.xl, problem.xu)]
        self.fine = [grid(lo, hi, 4 * self.levels) for lo, hi in zip(problem.xl, problem.xu)]
        self.phase, self.ref, self.sweep_at = ("diagonal" if self.diagonal else "reference"), None, 0
        self.table: dict[tuple, np.ndarray] = {}  # decision -> objectives, everything told

    def ask(self) -> np.ndarray | None:
        if self.phase == "diagonal":
            return np.repeat(self.fine[0][:, None], self.problem.n_var, axis=1)
        if self.phase == "reference":
            return np.stack([self.problem.xl, self.problem.xu]).astype(np.float64)
        if self.phase == "sweep":
            i = self.sweep_at
            rows = [self._with(i, v) for v in self.grids[i] if v != self.ref[i]]
            return np.array(rows) if rows else self._skip()
        if self.phase == "allocate":
            return self._allocations()
        return self._neighbours() if self.refine else None

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        for x, f in zip(X, F):
            self.table[tuple(np.rint(x))] = np.asarray(f, dtype=np.float64)
        if self.phase == "diagonal":
            self.phase = "refine"
        elif self.phase == "reference":
            best = int(np.lexsort((-F[:, 1], F[:, 0]))[0])  # smallest error, then larger size
            self.ref, self.f_ref, self.phase = np.rint(X[best]), F[best], "sweep"
        elif self.phase == "sweep":
            self.sweep_at += 1
            if self.sweep_at >= self.problem.n_var:
                self.phase = "allocate"
        elif self.phase == "allocate":
            self.phase = "refine"

    def _skip(self) -> np.ndarray | None:
        self.tell(np.zeros((0, self.problem.n_var)), np.zeros((0, 2)))
        return self.ask()

    def _with(self, i: int, value: float) -> np.ndarray:
        x = self.ref.copy()
        x[i] = value
        return x

    def deltas(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values of variable ``i`` swept, and their (size, error) deltas from the reference."""
        vals, ds, de = [self.ref[i]], [0.0], [0.0]
        for v in self.grids[i]:
            f = self.table.get(tuple(self._with(i, v)))
            if f is not None and v != self.ref[i]:
                vals.append(v)
                ds.append(f[1] - self.f_ref[1])
                de.append(f[0] - self.f_ref[0])
        ds_a, de_a = np.array(ds), np.array(de)
        return np.array(vals), ds_a, monotone(ds_a, de_a)

    def _allocations(self) -> np.ndarray:
        tables = [self.deltas(i) for i in range(self.problem.n_var)]
        slopes = np.concatenate([hull_slopes(ds, de) for _, ds, de in tables] + [np.zeros(0)])
        if slopes.size == 0:
            return self._neighbours()
        mus = np.unique(np.quantile(slopes, np.linspace(0, 1, self.lambdas)))
        rows = []
        for mu in np.concatenate([mus * (1 - 1e-9), mus * (1 + 1e-9)]):
            rows.append([vals[int(np.argmin(de + mu * ds))] for vals, ds, de in tables])
        rows = np.unique(np.array(rows, dtype=np.float64), axis=0)
        new = [r for r in rows if tuple(r) not in self.table]
        return np.array(new) if new else self._neighbours()

    def _neighbours(self) -> np.ndarray | None:
        if self.phase != "refine":
            self.phase = "refine"
        X = np.array(list(self.table))
        F = np.array([self.table[k] for k in self.table])
        keep = non_dominated(F)
        front = X[keep][np.lexsort((-F[keep][:, 1], F[keep][:, 0]))]  # most accurate first
        if self.within is not None:  # the operating stretch alone, the coarsest first
            errors = np.sort(F[keep][:, 0])
            front = front[errors <= errors[0] + self.within + 1e-12][::-1]
        for n in range(len(front)):
            # in turn from the most accurate; with ``within``, the first with neighbours left
            x = front[n] if self.within is not None else front[self.turn % len(front)]
            self.turn += 1
            rows = []
            for i in range(self.problem.n_var):
                g = self.fine[i]
                at = int(np.argmin(np.abs(g - x[i])))
                for j in (at - 1, at + 1):
                    if 0 <= j < len(g):
                        y = x.copy()
                        y[i] = g[j]
                        if tuple(y) not in self.table:
                            rows.append(y)
            if rows:
                return np.unique(np.array(rows), axis=0)
        return None


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("allocate", Allocate,
             "Separable rate-distortion allocation: each variable swept alone from the finest "
             "decision, combined by Lagrangian multipliers, then refined on the front's neighbours.")
