"""The MO-UB pipeline: search K, re-score the front on test, merge, Huffman-code, save files."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from wsbench import plugins
from wsbench.compress import CompressedModel
from wsbench.errors import ConfigError
from wsbench.fitness import FitnessHarness
from wsbench.merge import MergeStrategy, needs_holdout
from wsbench.optimizer import drive
from wsbench.pareto import non_dominated
from wsbench.quantization import Quantization
from wsbench.settings import FILE_CODINGS  # what `wsbench compress` may save files with


@dataclass
class CompressConfig:
    task: str = "digits-cnn"
    optimizer: str = "nsga2"
    quantizer: str = "uniform"
    merge: str = "neighbor"
    space: str = "k"
    seed: int = 0
    budget: int = 1000          # unique evaluations
    max_requested: int = 10_000  # the paper's 100 generations x 100 individuals
    metric: str = "f1"
    max_drop: float = 0.0       # front members kept: val metric >= baseline - max_drop
    ub_k: int = 1024            # the "random UB" row of Table I
    include: str = "conv-linear"
    device: str | None = None
    task_options: dict[str, Any] = field(default_factory=dict)
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    quantizer_options: dict[str, Any] = field(default_factory=dict)
    merge_options: dict[str, Any] = field(default_factory=dict)
    space_options: dict[str, Any] = field(default_factory=dict)
    # screening: what the search scores candidates with; the front is re-scored on all of val, fp32
    fidelity: float = 1.0         # share of the validation split (seeded, class-stratified)
    fidelity_seed: int = 0
    screen_dtype: str = "float32"  # "bfloat16": bf16 autocast while searching
    population_eval: str = "auto"  # "loop" (CPU default) or "batched" (one vmapped forward; CUDA)
    coding: str = "huffman"        # of the saved files: the paper's, or "huffman-layer" (per tensor)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Scored:
    """One quantization with its scores and its coded sizes."""

    label: str
    x: tuple[float, ...]
    k: int
    quantization: Quantization
    val: float
    test: float
    fixed: CompressedModel
    huffman: CompressedModel
    layer: CompressedModel  # per-tensor Huffman tables over the same indices (lossless variant)

    @property
    def d(self) -> int:
        return self.quantization.d

    def coded(self, coding: str) -> CompressedModel:
        """The model coded as ``coding`` ("fixed", "huffman" or "huffman-layer")."""
        return {"fixed": self.fixed, "huffman": self.huffman, "huffman-layer": self.layer}[coding]


@dataclass
class CompressResult:
    config: CompressConfig
    baseline_val: float
    baseline_test: float
    n_shared: int
    original_bytes: int
    ub: Scored
    front: list[Scored]       # chosen non-dominated solutions, before merge
    merged: list[Scored]      # the same solutions after merging
    archive_x: np.ndarray
    archive_f: np.ndarray
    requested: int
    unique: int
    merge_evaluations: int
    seconds: dict[str, float]
    model: str = ""           # fingerprint of the trained weights (WeightView.fingerprint)


def score_solution(h: FitnessHarness, quantizer: str, label: str, x, q: Quantization) -> Scored:
    """Score ``q`` on validation and test and build its fixed-width and Huffman-coded models
    (one shared table as the paper, and per-tensor tables)."""
    val = h.score_quantization(q, "val")
    test = h.score_quantization(q, "test")
    models = {c: CompressedModel.from_view(h.view, q, quantizer, c, k=h.space.k_of(x))
              for c in ("fixed", "huffman", "huffman-layer")}
    return Scored(label, tuple(map(float, x)), h.space.k_of(np.asarray(x)), q, val, test,
                  models["fixed"], models["huffman"], models["huffman-layer"])


def _scored(h: FitnessHarness, cfg: CompressConfig, label: str, x, q: Quantization) -> Scored:
    return score_solution(h, cfg.quantizer, label, x, q)


SCREEN_MARGIN = 0.02  # screened front members re-scored: those within max_drop + this of baseline


def choose_front(h: FitnessHarness, baseline_val: float, max_drop: float) -> np.ndarray:
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


def merge_front(h: FitnessHarness, front: list[Scored], merger: MergeStrategy, quantizer: str,
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


def build_harness(cfg: CompressConfig, progress: bool = True, data: Any = None) -> FitnessHarness:
    """The fitness harness of ``cfg``; ``data`` (the task's loaded TaskData) skips loading it."""
    if data is None:
        data = plugins.create("task", cfg.task, **cfg.task_options).load(progress=progress)
    quantizer = plugins.create("quantizer", cfg.quantizer, **cfg.quantizer_options)
    space = plugins.create("space", cfg.space, **cfg.space_options)
    return FitnessHarness(data, quantizer, space, metric=cfg.metric, include=cfg.include,
                          device=cfg.device, cache_prefix=(cfg.task, cfg.quantizer, cfg.space),
                          fidelity=cfg.fidelity, fidelity_seed=cfg.fidelity_seed,
                          screen_dtype=cfg.screen_dtype, population_eval=cfg.population_eval)


def run_compress(cfg: CompressConfig, progress: bool = True) -> CompressResult:
    """Run the whole MO-UB pipeline for one configuration."""
    from tqdm.auto import tqdm

    if cfg.budget < 1:
        raise ConfigError(f"budget must be at least 1, got {cfg.budget}")
    if cfg.coding not in FILE_CODINGS:
        raise ConfigError(f"unknown coding {cfg.coding!r}; use one of {', '.join(FILE_CODINGS)}")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    optimizer = plugins.create("optimizer", cfg.optimizer, **cfg.optimizer_options)
    merger = plugins.create("merge", cfg.merge, **cfg.merge_options)
    h = build_harness(cfg, progress)
    seconds["load"] = time.perf_counter() - t0

    base_val, base_test = h.score_baseline("val"), h.score_baseline("test")
    ub_x = np.full(h.n_var, float(cfg.ub_k))
    ub = _scored(h, cfg, f"UB (K={cfg.ub_k})", ub_x, h.quantizer.quantize(h.view.original, cfg.ub_k))

    t1 = time.perf_counter()
    total = int(min(cfg.budget, h.space_size))
    with tqdm(total=total, desc=f"search {cfg.optimizer}", unit="eval", disable=not progress,
              leave=False) as bar:
        drive(optimizer, h, budget=cfg.budget, seed=cfg.seed, on_batch=bar.update,
              max_requested=cfg.max_requested)
    seconds["search"] = time.perf_counter() - t1

    front = [_scored(h, cfg, "MO-UB", x, h.quantization(x))
             for x in choose_front(h, base_val, cfg.max_drop)]

    t2 = time.perf_counter()
    merged, merge_evals = merge_front(h, front, merger, cfg.quantizer, progress,
                                      desc=f"merge {cfg.merge}")
    seconds["merge"] = time.perf_counter() - t2
    h.view.restore()
    AX, AF = h.archive_arrays()
    seconds["total"] = time.perf_counter() - t0
    return CompressResult(cfg, base_val, base_test, h.view.numel, ub.huffman.original_bytes, ub,
                          front, merged, AX, AF, h.requested, h.unique, merge_evals, seconds,
                          model=h.view.fingerprint())
