"""Bridges to the optimizers people use: Optuna's multi-objective samplers and BoTorch's qLogNEHVI.

Both go through the same ask/tell driver and unique-evaluation budget as every optimizer. They
are told the objectives on the indicators' fixed normalisation (z1 = f1, z2 = log2(d) /
log2(d_max)), a monotone map that keeps dominance and makes their hypervolume the suite's.
Optuna and BoTorch are an optional extra (``pip install -e '.[search]'``): without it the
optimizers still register, and running one says so in one line.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from wsbench_plugins.optimizers import Listed, all_decisions, exhausted
from wsbench_plugins.optimizers_single import UnitEncoding, d_max

from wsbench import Optimizer, Problem, hookimpl
from wsbench.errors import ConfigError
from wsbench.options import Population, Range

INSTALL_HINT = "install the extra: pip install -e '.[search]'"
# Optuna's samplers that handle several objectives (CmaEsSampler does not)
OPTUNA_SAMPLERS = ("TPESampler", "GPSampler", "NSGAIISampler", "NSGAIIISampler", "RandomSampler",
                   "QMCSampler")


def missing(module: str) -> str | None:
    """Why ``module`` cannot be imported here (None when it can)."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"needs {module} ({exc.__class__.__name__}: {exc}); {INSTALL_HINT}"
    return None


def normaliser(problem: Problem) -> Any:
    """The indicators' fixed normalisation for this problem (d_max from its upper bounds)."""
    from wsbench.experiments.indicators import Reference

    return Reference(d_max=d_max(problem))


class _Bridge(Optimizer):
    """What both bridges share: the module they need, and two objectives."""

    module = ""

    def unavailable(self) -> str | None:
        """Why this optimizer cannot run here (the optional extra is missing), or None."""
        return missing(self.module)

    def check(self, problem: Problem) -> str | None:
        return self.unavailable() or (None if problem.n_obj == 2 else
                                      f"bridged with 2 objectives, got {problem.n_obj}")


class OptunaOptimizer(_Bridge):
    """Any multi-objective Optuna sampler, chosen by name; integer K (xl >= 1) on a log scale.

    ``sampler``: one of :data:`OPTUNA_SAMPLERS`; ``batch_size``: trials asked per batch;
    ``sampler_options``: keyword arguments for the sampler (``seed`` is the trial's);
    ``max_repeats``: proposals per ask, repeats included, before it gives up (the space is
    then taken as exhausted for this sampler).
    """

    module = "optuna"
    max_repeats = 200

    def __init__(self, sampler: str = "TPESampler", batch_size: Population = 1,
                 sampler_options: dict | None = None, log_k: bool = True) -> None:
        if sampler not in OPTUNA_SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(OPTUNA_SAMPLERS)} (Optuna's "
                              f"multi-objective samplers), got {sampler!r}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if sampler_options is not None and not isinstance(sampler_options, dict):
            raise ConfigError(f"sampler_options must be a table of options, got {sampler_options!r}")
        self.sampler, self.batch_size = sampler, int(batch_size)
        self.sampler_options = dict(sampler_options or {})
        self.log_k = bool(log_k)

    def _distributions(self, problem: Problem) -> dict[str, Any]:
        from optuna.distributions import FloatDistribution, IntDistribution

        out: dict[str, Any] = {}
        for i, (lo, hi, is_int) in enumerate(zip(problem.xl, problem.xu, problem.integer)):
            if is_int:
                out[f"x{i}"] = IntDistribution(int(lo), int(hi), log=self.log_k and lo >= 1)
            else:
                out[f"x{i}"] = FloatDistribution(float(lo), float(hi))
        return out

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cls = getattr(optuna.samplers, self.sampler)
        try:
            sampler = cls(seed=int(seed), **self.sampler_options)
        except TypeError as exc:
            raise ConfigError(f"optuna {self.sampler}: bad sampler_options: {exc}") from None
        self.problem, self.reference = problem, normaliser(problem)
        self.study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        self.dists = self._distributions(problem)
        self._trials: list[Any] = []
        self._known: dict[tuple, tuple[float, float]] = {}  # decision -> normalised objectives

    def ask(self) -> np.ndarray | None:
        """A batch of decisions not evaluated yet: a repeat is told its known objectives at once
        (it costs no evaluation), so a sampler that revisits K does not stall the driver."""
        import warnings

        from optuna.trial import TrialState

        if exhausted(self.problem):
            return None
        self._trials, rows = [], []
        with warnings.catch_warnings():  # experimental-feature notices, once per sampler
            warnings.simplefilter("ignore")
            for _ in range(self.max_repeats):
                if len(rows) == self.batch_size:
                    break
                trial = self.study.ask(self.dists)
                x = tuple(float(trial.params[f"x{i}"]) for i in range(len(self.dists)))
                if x in self._known:
                    self.study.tell(trial, list(self._known[x]))
                    continue
                if x in rows:  # a repeat within this batch: nothing to tell yet, so it fails
                    self.study.tell(trial, state=TrialState.FAIL)
                    continue
                self._trials.append(trial)
                rows.append(x)
        return np.array(rows, dtype=np.float64).reshape(-1, len(self.dists)) if rows else None

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        Z = self.reference.normalise(F)
        for trial, x, z in zip(self._trials, X, Z):
            self._known[tuple(float(v) for v in x)] = (float(z[0]), float(z[1]))
            self.study.tell(trial, [float(z[0]), float(z[1])])


class BoTorchOptimizer(_Bridge):
    """qLogNEHVI (BoTorch) over the space's decision on the unit cube, K on log2.

    Two independent GPs (one per normalised objective, fitted each batch) and a Sobol start of
    ``n_init`` points. A small all-integer space is optimised over its unevaluated decisions
    (no rounding duplicates; at most ``max_choices`` of them, a seeded subset, per batch);
    otherwise over ``max_choices`` seeded Sobol points of the cube (BoTorch's gradient-based
    ``optimize_acqf`` hung on the mixed k-clip space on this machine). Torch's global
    random state is forked, never advanced.
    """

    module = "botorch"

    def __init__(self, batch_size: Annotated[int, Range(1, 1000)] = 1,
                 n_init: Annotated[int, Range(2, 10_000)] = 6,
                 mc_samples: Annotated[int, Range(1, 16_384)] = 64, max_listed: Listed = 4096,
                 max_choices: Annotated[int, Range(1, 1_000_000)] = 256) -> None:
        for name, v, least in (("batch_size", batch_size, 1), ("n_init", n_init, 2),
                               ("mc_samples", mc_samples, 1), ("max_choices", max_choices, 1)):
            if int(v) < least:
                raise ConfigError(f"{name} must be at least {least}, got {v}")
        self.batch_size, self.n_init = int(batch_size), int(n_init)
        self.mc_samples, self.max_listed = int(mc_samples), int(max_listed)
        self.max_choices = int(max_choices)

    def setup(self, problem: Problem, seed: int, budget: int) -> None:
        self.problem, self.reference, self.seed = problem, normaliser(problem), int(seed)
        self.enc = UnitEncoding(problem.xl, problem.xu, problem.integer)
        self.U, self.Z = np.zeros((0, problem.n_var)), np.zeros((0, 2))
        self.rounds = 0
        listed = np.all(problem.integer) and problem.space_size <= self.max_listed
        self.listed = all_decisions(problem) if listed else None

    def ask(self) -> np.ndarray | None:
        import warnings

        import torch

        if exhausted(self.problem):
            return None
        self.rounds += 1
        with torch.random.fork_rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # jitter added to a Cholesky, fit retries: not errors
            torch.manual_seed(self.seed * 100_003 + self.rounds)
            if len(self.Z) < self.n_init:
                return self._start()
            return self.enc.decode(self._acquire())

    def _start(self) -> np.ndarray:
        from torch.quasirandom import SobolEngine

        n = self.n_init - len(self.Z)
        U = SobolEngine(self.problem.n_var, scramble=True, seed=self.seed).draw(self.n_init)
        return self.enc.decode(U.double().numpy()[-n:])

    def _acquire(self) -> np.ndarray:
        """The next batch in the unit cube, maximising qLogNEHVI of the negated objectives."""
        import torch
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.sampling.normal import SobolQMCNormalSampler

        model = self._fit()
        X = torch.as_tensor(self.U, dtype=torch.double)
        ref = [-float(r) for r in self.reference.ref_point]
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=model, ref_point=ref, X_baseline=X, prune_baseline=True,
            sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=self.seed + self.rounds))
        return self._optimise(acq)

    def _fit(self) -> Any:
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls import SumMarginalLogLikelihood

        X = torch.as_tensor(self.U, dtype=torch.double)
        Y = -torch.as_tensor(self.Z, dtype=torch.double)
        models = [SingleTaskGP(X, Y[:, i:i + 1], outcome_transform=Standardize(m=1)) for i in range(2)]
        model = ModelListGP(*models)
        try:
            fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        except Exception:  # noqa: BLE001 - a failed fit keeps the prior's hyperparameters
            pass
        return model

    def _optimise(self, acq: Any) -> np.ndarray:
        """The best batch among candidate decisions not evaluated yet: every decision of a
        small integer space, otherwise ``max_choices`` seeded Sobol points of the cube (decoded,
        so rounding never proposes a known decision)."""
        import torch
        from botorch.optim import optimize_acqf_discrete
        from torch.quasirandom import SobolEngine

        rng = np.random.default_rng([self.seed, self.rounds])
        if self.listed is not None:
            X = self.listed
        else:
            sobol = SobolEngine(self.problem.n_var, scramble=True, seed=int(rng.integers(2**31)))
            X = np.unique(self.enc.decode(sobol.draw(self.max_choices).double().numpy()), axis=0)
        C = self.enc.encode(X)
        seen = {tuple(u) for u in np.round(self.U, 12)}
        C = C[[tuple(c) not in seen for c in np.round(C, 12)]]
        if len(C) == 0:
            return np.zeros((0, self.problem.n_var))
        if len(C) > self.max_choices:  # a seeded subset keeps each batch affordable
            C = C[np.sort(rng.choice(len(C), self.max_choices, replace=False))]
        cands, _ = optimize_acqf_discrete(acq, q=min(self.batch_size, len(C)),
                                          choices=torch.as_tensor(C, dtype=torch.double))
        return cands.numpy()

    def tell(self, X: np.ndarray, F: np.ndarray) -> None:
        U = self.enc.encode(np.asarray(X, dtype=np.float64))
        Z = self.reference.normalise(F)
        keys = {tuple(u) for u in np.round(self.U, 12)}
        for u, z in zip(U, Z):
            if tuple(np.round(u, 12)) not in keys:
                keys.add(tuple(np.round(u, 12)))
                self.U, self.Z = np.vstack([self.U, u]), np.vstack([self.Z, z])


@hookimpl
def wsbench_register_optimizers(register) -> None:
    register("optuna", OptunaOptimizer,
             "Optuna's multi-objective samplers (option sampler=TPESampler, GPSampler, "
             "NSGAIISampler, ...), integer K on a log scale; extra 'search'.")
    register("botorch", BoTorchOptimizer,
             "BoTorch qLogNEHVI over the decision (unit cube, K on log2), batch_size an option; "
             "extra 'search'.")
