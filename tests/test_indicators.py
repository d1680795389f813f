"""Indicators against pymoo / brute force and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from wsbench.experiments.indicators import (
    Reference,
    anytime_hv,
    best_at_drop,
    evals_to_reach,
    hv2d,
    hypervolume,
    igd_plus,
    trial_indicators,
)
from wsbench.experiments.records import Coding


def _pymoo_hv(Z, ref):
    from pymoo.indicators.hv import HV

    Z = np.asarray(Z, dtype=float)
    inside = Z[np.all(Z < np.asarray(ref), axis=1)]
    return float(HV(ref_point=np.asarray(ref, dtype=float))(inside)) if len(inside) else 0.0


def test_hv2d_hand_example():
    # two boxes: 0.8 x 0.5 from (0.2, 0.5) plus the extra 0.5 x 0.3 strip of (0.5, 0.2)
    assert hv2d(np.array([[0.2, 0.5], [0.5, 0.2]]), (1.0, 1.0)) == pytest.approx(0.55)
    assert hv2d(np.zeros((0, 2)), (1.0, 1.0)) == 0.0
    assert hv2d(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]), (1.0, 1.0)) == 0.0  # on/over the ref


@pytest.mark.parametrize("seed", range(6))
def test_hv2d_matches_pymoo_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    Z = rng.random((rng.integers(1, 60), 2)) * 1.2  # some beyond the reference point
    Z = np.vstack([Z, Z[:3]])                          # duplicates
    Z[::7, 0] = Z[0, 0]                                # ties in one objective
    ref = (1.0, 1.1)
    assert hv2d(Z, ref) == pytest.approx(_pymoo_hv(Z, ref), rel=1e-12, abs=1e-15)


def test_anytime_hv_equals_hv_of_every_prefix():
    rng = np.random.default_rng(3)
    F = np.column_stack([rng.random(80), rng.integers(2, 1025, 80)])
    ref = Reference()
    curve = anytime_hv(F, ref)
    brute = [hypervolume(F[:i + 1], ref) for i in range(len(F))]
    np.testing.assert_allclose(curve, brute, rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(curve) >= -1e-15)


def test_reference_normalisation_is_fixed_not_data_driven():
    ref = Reference(f1_max=0.5, d_scale="log2", d_max=1024)
    Z = ref.normalise(np.array([[0.25, 32.0], [0.5, 1024.0]]))
    np.testing.assert_allclose(Z, [[0.5, 0.5], [1.0, 1.0]])
    lin = Reference(d_scale="linear", d_max=100).normalise(np.array([[0.1, 25.0]]))
    np.testing.assert_allclose(lin, [[0.1, 0.25]])
    # the same point has the same z whatever else is in the set
    np.testing.assert_allclose(ref.normalise(np.array([[0.25, 32.0]])), Z[:1])


def test_igd_plus_matches_pymoo():
    from pymoo.indicators.igd_plus import IGDPlus

    rng = np.random.default_rng(5)
    P = rng.random((15, 2))
    A = rng.random((9, 2))
    assert igd_plus(A, P) == pytest.approx(float(IGDPlus(P)(A)), rel=1e-12)
    assert igd_plus(P, P) == 0.0
    assert igd_plus(np.zeros((0, 2)), P) == float("inf")


def test_evals_to_reach():
    curve = np.array([0.1, 0.5, 0.5, 0.9, 1.0])
    assert evals_to_reach(curve, 0.9) == 4
    assert evals_to_reach(curve, 1.0) == 5
    assert evals_to_reach(curve, 0.05) == 1
    assert evals_to_reach(curve, 1.5) is None


def test_best_at_drop_picks_highest_cr_within_the_drop():
    sols = [{"val": 0.98, "cr_paper": 8.0, "cr_file": 5.0},
            {"val": 0.975, "cr_paper": 10.0, "cr_file": 6.0},
            {"val": 0.96, "cr_paper": 20.0, "cr_file": 9.0}]
    assert best_at_drop(sols, 0.98, 0.005)["cr_paper"] == 10.0
    assert best_at_drop(sols, 0.98, 0.0)["cr_paper"] == 8.0
    assert best_at_drop(sols, 0.98, 0.02)["cr_paper"] == 20.0
    assert best_at_drop(sols, 0.99, 0.005) is None


def test_best_at_drop_ranks_by_the_chosen_coding():
    # per-tensor coding can reorder solutions: rank by its own CRs, not the shared table's
    sols = [{"test": 0.97, "cr_paper": 9.0, "cr_file": 7.0, "cr_paper_layer": 9.1, "cr_file_layer": 7.1},
            {"test": 0.97, "cr_paper": 8.9, "cr_file": 6.9, "cr_paper_layer": 9.5, "cr_file_layer": 7.4}]
    assert best_at_drop(sols, 0.97, 0.0, split="test")["cr_paper"] == 9.0
    assert best_at_drop(sols, 0.97, 0.0, split="test", coding=Coding.LAYER)["cr_paper"] == 8.9


def _record(F, cached=None, merged=()):
    F = [list(map(float, f)) for f in F]
    cached = cached or [False] * len(F)
    return {"archive": {"f": F, "cached": cached}, "unique": sum(not c for c in cached),
            "requested": len(F), "seconds": {"search": 1.0, "total": 2.0}, "merge_evaluations": 0,
            "baseline": {"val": 0.9, "test": 0.9}, "merged": list(merged)}


def test_trial_indicators_against_an_exact_front():
    exact = {"front_f": [[0.1, 4.0], [0.3, 2.0]]}
    ref = Reference()
    # finds the exact front at its 3rd unique evaluation; a repeat (cached) does not count
    rec = _record([[0.5, 2.0], [0.3, 2.0], [0.3, 2.0], [0.1, 4.0], [0.2, 8.0]],
                  cached=[False, False, True, False, False])
    row = trial_indicators(rec, ref, exact, drops=[0.01])
    assert row["hv_ratio"] == pytest.approx(1.0)
    assert row["igd_plus"] == 0.0
    assert row["evals_to_100"] == 3
    assert row["hv"] == pytest.approx(_pymoo_hv(ref.normalise(np.array(exact["front_f"])), (1, 1)))
    partial = trial_indicators(_record([[0.5, 2.0], [0.1, 4.0]]), ref, exact, drops=[0.01])
    assert partial["hv_ratio"] < 1 and partial["evals_to_100"] == float("inf")
    # z: front (0.1, 0.2), (0.3, 0.1); found (0.5, 0.1), (0.1, 0.2). The first is found; the
    # second's nearest in IGD+ terms is (0.1, 0.2), worse only in z2 by log2(4/2)/10 = 0.1
    assert partial["igd_plus"] == pytest.approx((0 + 0.1) / 2)
    assert np.isnan(partial["cr_paper@1"])
