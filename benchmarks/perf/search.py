"""Section 4: what the decision cache saves NSGA-II; what screening costs the front."""

from __future__ import annotations

from .common import Report, timed
from .harness import digits_data, harness

S4 = "4 search efficiency"
S4B = "4b screening (low fidelity, bf16) on digits-cnn"


def run(report: Report, quick: bool) -> None:
    """NSGA-II with the paper's settings (pop 100, 10,000 requests) on space k, digits-cnn."""
    from wsbench import plugins
    from wsbench.search.optimizer import drive

    h = harness(digits_data())
    opt = plugins.create("optimizer", "nsga2")  # paper defaults: pop 100, SBX/PM as published
    cap = 3_000 if quick else 10_000  # the paper's 100 x 100; --quick stops after 30 generations
    wall, _ = timed(lambda: drive(opt, h, budget=1023, seed=0, max_requested=cap))
    unique_s = sum(e.seconds for e in h.archive if not e.cached)
    lookup_s = sum(e.seconds for e in h.archive if e.cached)
    per_eval = unique_s / max(h.unique, 1)
    no_cache = h.requested * per_eval
    report.add(S4, "NSGA-II requested evaluations", h.requested, "",
               f"pop 100, max_requested {cap:,}" + (" (--quick)" if quick else ""))
    report.add(S4, "NSGA-II unique evaluations", h.unique, "",
               f"{h.requested / max(h.unique, 1):.1f} requests per unique one")
    report.add(S4, "time in unique evaluations", unique_s, "s", f"{per_eval * 1e3:.2f} ms each")
    report.add(S4, "time in cache hits", lookup_s, "s")
    report.add(S4, "estimated evaluation time without the cache", no_cache, "s",
               "requested x mean unique evaluation time")
    report.add(S4, "evaluation time saved by the cache", no_cache - unique_s - lookup_s, "s",
               f"{no_cache / max(unique_s + lookup_s, 1e-12):.1f}x less")
    report.add(S4, "search wall time (optimizer included)", wall, "s",
               f"optimizer overhead {wall - unique_s - lookup_s:.1f} s")


def _front_quality(h, F_exact, reference) -> tuple[float, float]:
    from wsbench.experiments.indicators import hypervolume, igd_plus
    from wsbench.search.pareto import non_dominated

    X, _ = h.front()
    F = h.rescore(X)  # full validation split, fp32
    F = F[non_dominated(F)]
    hv = hypervolume(F, reference) / hypervolume(F_exact, reference)
    return hv, igd_plus(reference.normalise(F), reference.normalise(F_exact))


def run_screening(report: Report, quick: bool) -> None:
    """Exhaustive sweeps of K under each screening: the re-scored front against the exact one.

    Sweeping every K isolates the effect of screening from any optimizer's randomness.
    """
    from wsbench import plugins
    from wsbench.experiments.indicators import Reference
    from wsbench.search.optimizer import drive

    data = digits_data()
    k_max = 256 if quick else 1024
    space = {"k_min": 2, "k_max": k_max}
    reference = Reference(d_max=float(k_max))

    def sweep(**options):
        h = harness(data, **options)
        h.space = plugins.create("space", "k", **space)
        h.xl, h.xu = h.space.xl, h.space.xu
        t, _ = timed(lambda: drive(plugins.create("optimizer", "exhaustive"), h, budget=10_000))
        return h, t

    full, t_full = sweep()
    _, F_exact = full.front()
    report.add(S4B, "full split fp32: sweep time", t_full, "s",
               f"K in [2, {k_max}], {full.unique} evaluations; exact front of {len(F_exact)}")
    settings = [("fidelity 0.5", {"fidelity": 0.5}), ("fidelity 0.25", {"fidelity": 0.25}),
                ("bf16 autocast", {"screen_dtype": "bfloat16"}),
                ("fidelity 0.25 + bf16", {"fidelity": 0.25, "screen_dtype": "bfloat16"})]
    for label, options in settings:
        h, t = sweep(**options)
        t_re, (hv, igd) = timed(lambda: _front_quality(h, F_exact, reference))
        report.add(S4B, f"{label}: sweep + front re-score time", t + t_re, "s",
                   f"{(t + t_re) / t_full:.2f}x the full sweep; re-scored {len(h.front()[0])}")
        report.add(S4B, f"{label}: HV of re-scored front / exact", hv, "",
                   f"IGD+ {igd:.4f} (0 = exact front)")
