"""Quality indicators of one trial, all against a fixed, declared normalisation.

Objectives are (f1 = 1 - validation metric, f2 = d). Before any indicator they are mapped to
z = (f1 / f1_max, scale(d) / scale(d_max)) with scale = log2 (default) or identity, and the
reference point is fixed per task in the experiment's config (default (1, 1) in z). Nothing here
derives a normalisation or a reference point from the fronts being measured, so values are
comparable across optimizers, seeds and runs (pymoo's ``HV(pf=F)`` is not).

Why log2 by default: d spans 2..1024 and every interesting trade-off lives below d ~ 100; on a
linear d axis that region is a few percent of the box and all optimizers tie to three decimals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from wsbench.experiments.records import Coding, ExactRecord, Solution, TrialRecord
from wsbench.search.pareto import non_dominated

D_SCALES = ("log2", "linear")


@dataclass(frozen=True)
class Reference:
    """Normalisation and reference point of one task's indicators."""

    f1_max: float = 1.0
    d_scale: str = "log2"
    d_max: float = 1024.0
    ref_point: tuple[float, float] = (1.0, 1.0)

    def normalise(self, F: np.ndarray) -> np.ndarray:
        """Objectives (f1, d) -> z in the unit box (points beyond it stay beyond it)."""
        F = np.asarray(F, dtype=np.float64).reshape(-1, 2)
        z1 = F[:, 0] / self.f1_max
        if self.d_scale == "log2":
            z2 = np.log2(np.maximum(F[:, 1], 1.0)) / np.log2(self.d_max)
        else:
            z2 = F[:, 1] / self.d_max
        return np.column_stack([z1, z2])

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ref_point"] = list(self.ref_point)
        out["formula"] = (f"z1 = f1 / {self.f1_max:g}; z2 = "
                          + (f"log2(d) / log2({self.d_max:g})" if self.d_scale == "log2"
                             else f"d / {self.d_max:g}")
                          + f"; reference point {list(self.ref_point)} in z")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Reference":
        return cls(float(data["f1_max"]), str(data["d_scale"]), float(data["d_max"]),
                   tuple(float(v) for v in data["ref_point"]))  # type: ignore[arg-type]


def hv2d(Z: np.ndarray, ref: Sequence[float]) -> float:
    """Exact hypervolume of 2-D points (minimised) against ``ref``: a sweep in z1."""
    Z = np.asarray(Z, dtype=np.float64).reshape(-1, 2)
    r1, r2 = float(ref[0]), float(ref[1])
    Z = Z[(Z[:, 0] < r1) & (Z[:, 1] < r2)]
    if not len(Z):
        return 0.0
    Z = Z[np.lexsort((Z[:, 1], Z[:, 0]))]
    area, best2 = 0.0, r2
    for i in range(len(Z)):
        z1, z2 = Z[i]
        if z2 < best2:  # on the staircase: adds a slab up to the next z1 of the staircase
            best2 = z2
        nxt = Z[i + 1, 0] if i + 1 < len(Z) else r1
        area += (nxt - z1) * (r2 - best2)
    return float(area)


def hypervolume(F: np.ndarray, reference: Reference) -> float:
    """Hypervolume of raw objectives (f1, d) under ``reference``."""
    if len(F) == 0:
        return 0.0
    return hv2d(reference.normalise(F), reference.ref_point)


def anytime_hv(F_unique: np.ndarray, reference: Reference) -> np.ndarray:
    """HV of the archive after each unique evaluation (``F_unique`` in evaluation order).

    A new point dominated by the current front leaves the HV as it is; otherwise the front is
    updated and its HV recomputed, which keeps the cost at O(n * front size).
    """
    Z = reference.normalise(F_unique) if len(F_unique) else np.zeros((0, 2))
    ref = np.asarray(reference.ref_point, dtype=np.float64)
    out = np.zeros(len(Z))
    front = np.zeros((0, 2))
    hv = 0.0
    for i, z in enumerate(Z):
        if np.all(z < ref) and not np.any(np.all(front <= z, axis=1)):
            keep = ~np.all(z <= front, axis=1)
            front = np.vstack([front[keep], z])
            hv = hv2d(front, ref)
        out[i] = hv
    return out


def igd_plus(A: np.ndarray, P: np.ndarray) -> float:
    """IGD+ of an approximation ``A`` to the front ``P`` (both already normalised, minimised)."""
    A, P = np.asarray(A, dtype=np.float64), np.asarray(P, dtype=np.float64)
    if not len(P):
        return float("nan")
    if not len(A):
        return float("inf")
    diff = np.maximum(A[None, :, :] - P[:, None, :], 0.0)  # (|P|, |A|, m)
    return float(np.sqrt((diff ** 2).sum(-1)).min(1).mean())


def evals_to_reach(curve: np.ndarray, target: float, rel_tol: float = 1e-9) -> int | None:
    """Fewest unique evaluations (evaluations spent, on a curve from :func:`record_curve`)
    after which ``curve`` >= ``target`` (None when never)."""
    hit = np.flatnonzero(np.asarray(curve) >= target * (1 - rel_tol) - 1e-15)
    return int(hit[0]) + 1 if len(hit) else None


Sol = Solution | Mapping[str, Any]  # a record's solution, or one written by hand (by file key)


def within(s: Sol, baseline: float, drop: float, split: str = "val", one_se: bool = False) -> bool:
    """Whether ``s``'s ``split`` metric dropped by at most ``drop`` from ``baseline``; with
    ``one_se``, its drop plus its bootstrap standard error (``val_se``) must be within it, so
    that a member within the drop by luck of the validation split is passed over (a
    one-standard-error margin)."""
    return baseline - s[split] + (s["val_se"] if one_se else 0.0) <= drop + 1e-12


def best_at_drop(solutions: Iterable[Sol], baseline_val: float, drop: float,
                 split: str = "val", coding: Coding = Coding.HUFFMAN, one_se: bool = False
                 ) -> Sol | None:
    """The solution of highest paper CR :func:`within` ``drop`` (with ``one_se``: its margin).

    ``split="test"`` compares methods at equal test metric (an analysis, never a selection rule:
    ``baseline_val`` is then the baseline's test metric). Ties on paper CR go to the higher
    whole-file CR, both of ``coding`` (the per-tensor coding can order solutions otherwise).
    None when no solution qualifies.
    """
    ok = [s for s in solutions if within(s, baseline_val, drop, split, one_se)]
    if not ok:
        return None
    return max(ok, key=lambda s: (s[coding.cr_paper_key], s[coding.cr_file_key]))


def has_se(solutions: Iterable[Sol]) -> bool:
    """Whether every solution carries its drop's standard error (records before it do not)."""
    sols = list(solutions)
    return bool(sols) and all(_get(s, "val_se") is not None for s in sols)


def _get(s: Sol, key: str) -> Any:
    return getattr(s, key) if isinstance(s, Solution) else s.get(key)


def drop_label(drop: float) -> str:
    """0.005 -> '0.5' (points of the metric)."""
    return f"{100 * drop:g}"


def unique_objectives(record: TrialRecord) -> np.ndarray:
    """Objectives of a trial record's unique evaluations, in the order they were made."""
    arch = record.archive
    F = np.asarray(arch.f, dtype=np.float64).reshape(-1, 2)
    return F[~np.asarray(arch.cached, dtype=bool)]


def record_curve(record: TrialRecord, reference: Reference) -> np.ndarray:
    """The anytime HV of a trial, one value per evaluation spent (see :func:`on_cost_axis`)."""
    arch = record.archive
    F = unique_objectives(record)
    fresh = ~np.asarray(arch.cached, dtype=bool)
    cost = np.asarray(arch.cost, dtype=np.float64)[fresh] if len(arch.cost) else None
    return on_cost_axis(anytime_hv(F, reference), cost)


def on_cost_axis(curve: np.ndarray, cost: np.ndarray | None) -> np.ndarray:
    """``curve`` (one value per unique evaluation) resampled at budgets 1, 2, ... evaluations.

    ``cost[i]``: evaluations spent once unique evaluation i was done, margin estimates included
    (:mod:`wsbench.search.estimate`). Entry b - 1 of the result is the HV reached within a
    budget of b, so every anytime view counts an estimate at its cost, and a search without
    estimates (cost = 1, 2, ...) keeps its curve as it is.
    """
    curve = np.asarray(curve, dtype=np.float64)
    if cost is None or not len(curve) or np.array_equal(cost, np.arange(1, len(curve) + 1)):
        return curve
    budgets = np.arange(1, int(np.ceil(cost[-1] - 1e-9)) + 1)
    done = np.searchsorted(cost, budgets + 1e-9, side="right")  # evaluations within each budget
    return np.where(done > 0, curve[np.maximum(done - 1, 0)], 0.0)


def trial_indicators(record: TrialRecord | Mapping[str, Any], reference: Reference,
                     exact: ExactRecord | Mapping[str, Any] | None, drops: Sequence[float],
                     curve: np.ndarray | None = None) -> dict[str, Any]:
    """One row of indicators for a finished trial record (see :mod:`wsbench.experiments.records`).

    ``exact`` is the exact-front record (None when the space's front is not computable);
    ``curve`` the trial's anytime HV when already computed. Records written by hand (dicts)
    are read as :meth:`TrialRecord.from_dict` reads a file.
    """
    if not isinstance(record, TrialRecord):
        record = TrialRecord.from_dict(record)
    Fu = unique_objectives(record)
    curve = record_curve(record, reference) if curve is None else curve
    hv = float(curve[-1]) if len(curve) else 0.0
    row: dict[str, Any] = {"hv": hv, "unique": int(record.unique), "charged": record.charged,
                           "requested": int(record.requested),
                           "seconds_search": record.seconds["search"],
                           "seconds_total": record.seconds["total"],
                           "merge_evaluations": record.merge_evaluations}
    if exact is not None:
        front_f = exact.front_f if isinstance(exact, ExactRecord) else exact["front_f"]
        Pz = reference.normalise(np.asarray(front_f))
        hv_exact = hv2d(Pz, reference.ref_point)
        nd = Fu[non_dominated(Fu)] if len(Fu) else Fu
        row["hv_ratio"] = hv / hv_exact if hv_exact > 0 else float("nan")
        row["igd_plus"] = igd_plus(reference.normalise(nd) if len(nd) else nd, Pz)
        for frac, name in ((0.99, "evals_to_99"), (0.995, "evals_to_99.5"), (1.0, "evals_to_100")):
            n = evals_to_reach(curve, frac * hv_exact)
            row[name] = float(n) if n is not None else float("inf")
    row.update(_compression(record, drops))
    return row


def _compression(record: TrialRecord, drops: Sequence[float]) -> dict[str, float]:
    """Best CRs within each validation drop (plain, and with the one-standard-error margin where
    the record has the errors: keys ending in ``se``), and (oracle) within each test drop."""
    assert record.baseline is not None
    base, base_test, merged = record.baseline.val, record.baseline.test, record.merged
    nan = float("nan")
    row: dict[str, float] = {}
    rules = (("", False), ("se", True)) if has_se(merged) else (("", False),)
    for drop in drops:
        tag = drop_label(drop)
        for suffix, one_se in rules:
            best = best_at_drop(merged, base, drop, one_se=one_se)
            row[f"cr_paper@{tag}{suffix}"] = best.cr_paper if best else nan
            row[f"cr_file@{tag}{suffix}"] = best.cr_file if best else nan
            row[f"test@{tag}{suffix}"] = best.test if best else nan
            row[f"d@{tag}{suffix}"] = best.d if best else nan
        at_test = best_at_drop(merged, base_test, drop, split="test")
        row[f"cr_paper@test{tag}"] = at_test.cr_paper if at_test else nan
        row[f"cr_file@test{tag}"] = at_test.cr_file if at_test else nan
        if merged and all(s.has(Coding.LAYER) for s in merged):
            lay = best_at_drop(merged, base_test, drop, "test", Coding.LAYER)
            row[layer_column(tag)] = lay.sizes[Coding.LAYER].cr_file if lay else nan
    return row


def layer_column(tag: str) -> str:
    """The indicator column of the per-tensor coding's oracle file CR at test drop ``tag``."""
    return f"{Coding.LAYER.cr_file_key}@test{tag}"
