"""One trial, the one way: harness -> search -> chosen front re-scored -> merge -> record.

``wsbench run`` runs every trial of an experiment through :func:`run_trial`, and ``wsbench
compress`` is a one-trial experiment through the same function; its table, plot and files are
views of the same :class:`~wsbench.experiments.records.TrialRecord`. What a harness's trials share (the
baseline, the "random UB" row, the weights' fingerprint) is :class:`HarnessFacts`, computed once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from wsbench.codec.compress import CompressedModel
from wsbench.codec.merge import MergeStrategy, needs_holdout
from wsbench.errors import ConfigError
from wsbench.experiments.code_identity import trial_code
from wsbench.experiments.provenance import run_info
from wsbench.experiments.records import Archive, Baseline, Coding, Solution, TrialRecord
from wsbench.files.cache import content_key
from wsbench.search.pareto import non_dominated

if TYPE_CHECKING:
    from wsbench.codec.quantization import Quantization
    from wsbench.experiments.experiment import Trial
    from wsbench.search.fitness import FitnessHarness

UB_K = 1024  # the paper's "random UB" row: uniform bins, K = 1024, before any search
SCREEN_MARGIN = 0.02  # screened front members re-scored: those within max_drop + this of baseline


@dataclass
class Scored:
    """One quantization with its scores and its coded models (the record keeps their sizes)."""

    label: str
    x: tuple[float, ...]
    k: int
    quantization: "Quantization"
    val: float
    test: float
    models: dict[Coding, CompressedModel]
    val_se: float | None = None  # bootstrap SE of the validation drop (wsbench.search.drop_se)

    @property
    def d(self) -> int:
        return self.quantization.d

    def coded(self, coding: str) -> CompressedModel:
        """The model coded as ``coding`` (a :class:`~wsbench.experiments.records.Coding` or its value)."""
        return self.models[Coding(coding)]

    @property
    def huffman(self) -> CompressedModel:  # the paper's coding, the one most callers want
        return self.models[Coding.HUFFMAN]


@dataclass
class TrialOutcome:
    """A trial's record, and the scored solutions behind it (whose files compress saves)."""

    record: TrialRecord
    front: list[Scored] = field(default_factory=list)
    merged: list[Scored] = field(default_factory=list)


@dataclass(frozen=True)
class HarnessFacts:
    """What every trial on one harness shares, computed once per harness."""

    baseline: Baseline
    ub: Solution
    model: str  # the trained weights' fingerprint: a trial key names the task, not its weights
    n_shared: int


def build_harness(trial: "Trial", device: str | None = None, data: Any = None,
                  progress: bool = True) -> "FitnessHarness":
    """The fitness harness of ``trial``; ``data`` (the task's loaded TaskData) skips loading."""
    from wsbench.search.fitness import FitnessHarness

    if data is None:
        data = trial.task.create().load(progress=progress)
    return FitnessHarness(data, trial.quantizer.create(), trial.space.create(),
                          metric=trial.metric, include=trial.include, device=device,
                          cache_prefix=(trial.task.name, trial.quantizer.name, trial.space.name),
                          fidelity=trial.fidelity, fidelity_seed=trial.fidelity_seed,
                          screen_dtype=trial.screen_dtype, population_eval=trial.population_eval,
                          size=trial.size, size_coding=trial.size_coding)


def score_solution(h: "FitnessHarness", quantizer: str, label: str, x, q: "Quantization") -> Scored:
    """Score ``q`` on validation and test and build its model in every coding."""
    val = h.score_quantization(q, "val")
    se = h.drop_errors(q, "val")
    test = h.score_quantization(q, "test")
    k = h.space.k_of(np.asarray(x))
    codings = [c for c in Coding if c is not Coding.NATIVE or q.native is not None]
    models = {c: CompressedModel.from_view(h.view, q, quantizer, c.value, k=k) for c in codings}
    return Scored(label, tuple(map(float, x)), k, q, val, test, models, se)


def harness_facts(h: "FitnessHarness", quantizer: str) -> HarnessFacts:
    """Baseline scores, the UB row (K = UB_K on the pooled weights) and the fingerprint."""
    baseline = Baseline(h.score_baseline("val"), h.score_baseline("test"))
    s = score_solution(h, quantizer, f"UB (K={UB_K})", h.xu, h.quantizer.quantize(h.view.original, UB_K))
    h.view.restore()
    return HarnessFacts(baseline, replace(Solution.from_scored(s), k=UB_K), h.view.fingerprint(),
                        h.view.numel)


def choose_front(h: "FitnessHarness", baseline_val: float, max_drop: float) -> np.ndarray:
    """Decisions of the archive's front whose val metric is >= baseline - ``max_drop``.

    When none is that good, the most accurate front member alone (so a run always has one).
    """
    X, F = h.front()
    if h.screening:  # the search saw screened objectives: its front is re-scored on all of val
        # only members that screening puts near the baseline are worth a full re-score
        score, _ = h.merge_scorers(holdout=False)
        near = (1 - F[:, 0]) >= score(h.view.original) - max_drop - SCREEN_MARGIN
        X = X[near] if near.any() else X
        F = h.rescore(X)
        keep = non_dominated(F)
        X, F = X[keep], F[keep]
    chosen = [i for i in range(len(X)) if 1 - F[i, 0] >= baseline_val - max_drop - 1e-12]
    if not chosen:  # nothing as good as the baseline: keep the most accurate solution
        chosen = [int(np.argmin(F[:, 0]))]
    return X[chosen]


def merge_front(h: "FitnessHarness", front: list[Scored], merger: MergeStrategy, quantizer: str,
                progress: bool = False, desc: str = "merge") -> tuple[list[Scored], int]:
    """Apply ``merger`` to each scored solution; the merged ones re-scored, and the evaluations.

    A strategy that declares ``needs_holdout`` gets ``check``, a scorer on the other half.
    """
    from tqdm.auto import tqdm

    score, check = h.merge_scorers(holdout=needs_holdout(merger))
    extra = {"check": check} if check is not None else {}
    merged, evaluations = [], 0
    for s in tqdm(front, desc=desc, unit="sol", disable=not progress, leave=False):
        result = merger.merge(s.quantization, score, **extra)
        evaluations += result.evaluations
        merged.append(score_solution(h, quantizer, "+ merge", s.x, result.quantization))
    return merged, evaluations


class MemoMerge:
    """A merge strategy whose results are remembered by quantization content.

    Trials of one harness often keep the same front members; the merge is deterministic
    post-processing (not part of the search being compared), so it is done once per distinct
    quantization. The evaluations and seconds reported are those of the first computation.
    Everything else the wrapped strategy declares (``name``, ``needs_holdout``, its options:
    the MergeStrategy contract) is read through from it, so a new declaration needs no copy here.
    """

    def __init__(self, merger: Any, memo: dict) -> None:
        self.merger, self.memo = merger, memo
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("merger", "memo", "seconds"):
            raise AttributeError(name)  # not delegated: copy/pickle probes, a half-built object
        return getattr(self.merger, name)

    def merge(self, q: Any, score: Any, **scorers: Any) -> Any:
        digest = q.digest()
        if digest not in self.memo:
            t0 = time.perf_counter()
            result = self.merger.merge(q, score, **scorers)
            self.memo[digest] = (result, time.perf_counter() - t0)
        result, seconds = self.memo[digest]
        self.seconds += seconds
        return result


def search(h: "FitnessHarness", optimizer: Any, trial: "Trial", budget: int, progress: bool,
           desc: str) -> float:
    """Drive ``optimizer`` over the harness within ``budget`` unique evaluations; the seconds."""
    from tqdm.auto import tqdm

    from wsbench.search.optimizer import drive

    t0 = time.perf_counter()
    with tqdm(total=int(min(budget, h.space_size)), desc=desc, unit="eval", leave=False,
              disable=not progress, position=1) as bar:
        drive(optimizer, h, budget=budget, seed=trial.seed, on_batch=bar.update,
              max_requested=trial.max_requested)
    return time.perf_counter() - t0


def run_trial(trial: "Trial", h: "FitnessHarness", facts: HarnessFacts, memo: dict,
              progress: bool = False) -> TrialOutcome:
    """Search, then merge the chosen front and re-score it: the trial's record (not written)."""
    rec = TrialRecord(trial.key, trial.id, trial.config(), "skipped", ub=facts.ub,
                      n_shared=facts.n_shared, model=facts.model, code=trial_code(trial).to_dict())
    optimizer = trial.optimizer.create()
    merger = MemoMerge(trial.merge.create(), memo.setdefault(content_key(**trial.merge.identity()), {}))
    h.reset()
    rec.reason = optimizer.check(h)
    if rec.reason:
        return TrialOutcome(rec)
    t0 = time.perf_counter()
    seconds = search(h, optimizer, trial, trial.budget, progress,
                     f"{trial.optimizer.label} s{trial.seed}")
    t1 = time.perf_counter()
    chosen = choose_front(h, facts.baseline.val, trial.max_drop) if h.unique else []
    front = [score_solution(h, trial.quantizer.name, "front", x, h.quantization(x)) for x in chosen]
    merged, merge_evals = merge_front(h, front, merger, trial.quantizer.name, progress,
                                      desc=f"merge {trial.merge.label}")
    h.view.restore()
    t2 = time.perf_counter()
    rec.status, rec.reason, rec.baseline = "ok", None, facts.baseline
    rec.original_bytes = front[0].coded(Coding.HUFFMAN).original_bytes if front else None
    rec.requested, rec.unique, rec.archive = h.requested, h.unique, Archive.of(h.archive)
    rec.charged = h.charged
    rec.front = [Solution.from_scored(s) for s in front]
    rec.merged = [Solution.from_scored(m, before=s) for s, m in zip(front, merged)]
    rec.merge_evaluations = merge_evals
    rec.seconds = {"search": seconds, "evaluations": float(sum(e.seconds for e in h.archive)),
                   "rescore_and_merge": t2 - t1, "merge_first_computed": merger.seconds,
                   "total": t2 - t0}
    rec.provenance = run_info(trial.config(), trial.seed)
    return TrialOutcome(rec, front, merged)


def refuse_skipped(outcome: TrialOutcome, trial: "Trial") -> None:
    """For one-trial runs: an optimizer that cannot search the space is an error, not a record."""
    if not outcome.record.ok:
        raise ConfigError(f"optimizer {trial.optimizer.label!r} cannot search space "
                          f"{trial.space.label!r}: {outcome.record.reason}")
