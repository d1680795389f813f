"""``wsbench compress``: a one-trial experiment, run by the runner's own trial code.

The configuration becomes a :class:`~wsbench.experiments.experiment.Trial`, run by
:func:`wsbench.experiments.trial.run_trial` exactly as ``wsbench run`` runs each of its trials; the result is
that trial's :class:`~wsbench.experiments.records.TrialRecord` (its table, plot and CSVs are views of it)
plus the scored solutions whose compressed files are saved.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from wsbench import plugins
from wsbench.errors import ConfigError
from wsbench.experiments import trial as trial_run
from wsbench.experiments.experiment import LISTS, PluginSpec, Trial
from wsbench.experiments.log_loss import baseline_bits, solution_bits
from wsbench.experiments.records import TrialRecord
from wsbench.experiments.trial import Scored
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
    size: str = "d"                # the size objective: d (paper) or coded bits per weight
    size_coding: str = "huffman-layer"  # the coding the bits objective counts
    coding: str = "huffman"        # of the saved files: the paper's, or "huffman-layer" or "adaptive"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def trial(self) -> Trial:
        """The one trial this configuration is (the same object ``wsbench run`` runs)."""
        specs = {kind: PluginSpec(kind, getattr(self, kind), dict(getattr(self, f"{kind}_options")),
                                  getattr(self, kind)) for kind in LISTS.values()}
        return Trial(**specs, seed=self.seed, budget=self.budget, max_requested=self.max_requested,
                     metric=self.metric, include=self.include, max_drop=self.max_drop,
                     fidelity=self.fidelity, screen_dtype=self.screen_dtype,
                     fidelity_seed=self.fidelity_seed, population_eval=self.population_eval,
                     size=self.size, size_coding=self.size_coding)


@dataclass
class CompressResult:
    """The record of the one trial, and its scored solutions (their files are saved)."""

    config: CompressConfig
    record: TrialRecord
    front: list[Scored]       # chosen non-dominated solutions, before merge
    merged: list[Scored]      # the same solutions after merging
    seconds: dict[str, float]
    # cross-entropy in bits per prediction (bits per character on a character-level language
    # model): {"baseline": {"val", "test"}, "solutions": [{"val", "test"}, ...]} (merged ones)
    bits: dict[str, Any] = field(default_factory=dict)

    @property
    def unique(self) -> int:
        return self.record.unique

    @property
    def requested(self) -> int:
        return self.record.requested

    @property
    def merge_evaluations(self) -> int:
        return self.record.merge_evaluations


def check(cfg: CompressConfig) -> Trial:
    """The configuration's trial once every setting, name and option passes (each plugin
    built once: a typo fails in a second, before the task loads or anything is printed)."""
    if cfg.budget < 1:
        raise ConfigError(f"budget must be at least 1, got {cfg.budget}")
    if cfg.coding not in FILE_CODINGS:
        raise ConfigError(f"unknown coding {cfg.coding!r}; use one of {', '.join(FILE_CODINGS)}")
    if cfg.coding == "native" and cfg.merge != "none":
        raise ConfigError("coding native saves a codec space's own payload: it needs merge none "
                          "(a merge changes the values, which the payload no longer describes)")
    if cfg.max_requested is not None and cfg.max_requested < cfg.budget:
        raise ConfigError(f"max_requested ({cfg.max_requested}) must be at least the budget "
                          f"({cfg.budget}): every unique evaluation is a request")
    if cfg.coding == "native" and not callable(getattr(plugins.get("space", cfg.space).factory,
                                                       "decode", None)):
        raise ConfigError(f"coding native saves a codec space's own payload; space "
                          f"{cfg.space!r} is not a codec (use nncodec or brevitas, or another coding)")
    trial = cfg.trial()
    for spec in (trial.task, trial.space, trial.quantizer, trial.optimizer, trial.merge):
        spec.create()
    return trial


def run_compress(cfg: CompressConfig, progress: bool = True) -> CompressResult:
    """Run the MO-UB pipeline for one configuration: one trial, as ``wsbench run`` runs it."""
    t0 = time.perf_counter()
    trial = check(cfg)
    h = trial_run.build_harness(trial, cfg.device, progress=progress)
    load = time.perf_counter() - t0
    outcome = trial_run.run_trial(trial, h, trial_run.harness_facts(h, trial.quantizer.name), {},
                                  progress)
    trial_run.refuse_skipped(outcome, trial)
    bits = {"baseline": baseline_bits(h),
            "solutions": [solution_bits(h, m.quantization) for m in outcome.merged]}
    seconds = {"load": load, **outcome.record.seconds, "total": time.perf_counter() - t0}
    return CompressResult(cfg, outcome.record, outcome.front, outcome.merged, seconds, bits)
