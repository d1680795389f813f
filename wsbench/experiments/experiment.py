"""Experiment configuration: a TOML file -> a validated :class:`Experiment` -> its trials.

Reading and checking files is :mod:`wsbench.experiments.experiment_toml` (re-exported here); the run-wide
settings and their checks are declared once in :mod:`wsbench.settings`. An experiment is tasks x spaces x quantizers x optimizers x merges x seeds; each combination is
one :class:`Trial` with a budget in unique evaluations. Every plugin entry is a name or a table
``{name = "nsga2", label = "nsga2-p20", pop_size = 20}`` (``label`` names it in reports; the
other keys are the plugin's options). Validation is strict and every problem is one line:
``<file>: <key>: <what is wrong>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from wsbench.experiments.configs import configs_as_dict, configs_from_dict
from wsbench.experiments.experiment_toml import load_experiment, parse_experiment
from wsbench.experiments.indicators import Reference
from wsbench.files.cache import content_key
from wsbench.settings import DEFAULTS, SCREENING

__all__ = ["LISTS", "TRIAL_FORMAT", "Experiment", "PluginSpec", "Trial", "load_experiment",
           "parse_experiment"]
TRIAL_FORMAT = 1
LISTS = {"tasks": "task", "spaces": "space", "quantizers": "quantizer", "optimizers": "optimizer",
         "merges": "merge"}
# settings added after experiment.json existed: in as_dict only when not at their default
NEW_SETTINGS = tuple(k for k in SCREENING if k not in ("fidelity", "screen_dtype"))


@dataclass(frozen=True)
class PluginSpec:
    """One plugin entry of an experiment: kind, registry name, options, display label."""

    kind: str
    name: str
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    label: str = ""

    def create(self) -> Any:
        from wsbench import plugins

        return plugins.create(self.kind, self.name, **self.options)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "options": dict(self.options)}

    def identity(self) -> dict[str, Any]:
        """What determines results (the label does not)."""
        return {"name": self.name, "options": dict(self.options)}


@dataclass(frozen=True)
class Trial:
    """One search run: everything that determines its results."""

    task: PluginSpec
    space: PluginSpec
    quantizer: PluginSpec
    optimizer: PluginSpec
    merge: PluginSpec
    seed: int
    budget: int
    max_requested: int | None
    metric: str
    include: str
    max_drop: float
    fidelity: float = 1.0          # screening: share of validation the search scores on
    screen_dtype: str = "float32"  # screening: dtype of the search's forwards
    fidelity_seed: int = DEFAULTS.fidelity_seed        # screening: which validation subset
    population_eval: str = DEFAULTS.population_eval    # one by one or one vmapped forward
    size: str = DEFAULTS.size                          # the size objective: d or coded bits
    size_coding: str = DEFAULTS.size_coding            # the coding the bits objective counts

    def screening(self) -> dict[str, Any]:
        """Screening options that differ from the default (full split, fp32, ...): at their
        defaults they stay out of the key, so records written before they existed still match."""
        return {k: getattr(self, k) for k in SCREENING if getattr(self, k) != getattr(DEFAULTS, k)}

    def config(self) -> dict[str, Any]:
        specs = {k: getattr(self, k).as_dict() for k in LISTS.values()}
        return {**specs, "seed": self.seed, "budget": self.budget,
                "max_requested": self.max_requested, "metric": self.metric,
                "include": self.include, "max_drop": self.max_drop, **self.screening()}

    @property
    def key(self) -> str:
        """Hash of the trial's full config (labels excluded): finished trials are found by it."""
        return content_key(format=TRIAL_FORMAT, **{k: getattr(self, k).identity() for k in LISTS.values()},
                           seed=self.seed, budget=self.budget, max_requested=self.max_requested,
                           metric=self.metric, include=self.include, max_drop=self.max_drop,
                           **self.screening())

    @property
    def id(self) -> str:
        """A readable, file-name-safe name that ends with the key."""
        parts = [getattr(self, k).label[:40] for k in LISTS.values()] + [f"s{self.seed}", self.key]
        return re.sub(r"[^A-Za-z0-9._-]+", "-", "__".join(parts))

    @property
    def harness_key(self) -> tuple[str, ...]:
        """Trials sharing this key share one harness: trained model, data, quantizer, space, and
        what the harness scores by (metric, shared weights, screening, size objective), so that
        configurations with their own ``fidelity`` or ``size_coding`` never share one."""
        parts = [content_key(**getattr(self, k).identity()) for k in ("task", "space", "quantizer")]
        return (*parts, content_key(metric=self.metric, include=self.include, **self.screening()))


@dataclass
class Experiment:
    name: str
    tasks: list[PluginSpec]
    spaces: list[PluginSpec]
    quantizers: list[PluginSpec]
    optimizers: list[PluginSpec]
    merges: list[PluginSpec]
    seeds: list[int]
    budget: int
    max_requested: int | None = None
    metric: str = "f1"
    include: str = "conv-linear"
    drops: tuple[float, ...] = (0.005, 0.01)
    max_drop: float = 0.01
    device: str | None = None
    threads: int | None = None
    exact_enabled: bool = True
    exact_max_points: int = 5000
    # where the trials run ([run] table): never part of a trial's key or of experiment.json,
    # since the records do not depend on it (run.json notes it)
    executor: str = DEFAULTS.executor
    scheduler: str | None = None
    workers: int | None = None
    fidelity: float = 1.0
    screen_dtype: str = "float32"
    fidelity_seed: int = DEFAULTS.fidelity_seed
    population_eval: str = DEFAULTS.population_eval
    size: str = DEFAULTS.size
    size_coding: str = DEFAULTS.size_coding
    reference: dict[str, Reference] = field(default_factory=dict)
    description: str = ""
    source: str = ""  # the TOML text it was read from
    # explicit (space, quantizer, optimizer, merge) combinations instead of the lists' product
    configs: list[dict[str, PluginSpec]] | None = None

    def trials(self) -> list[Trial]:
        """Seeds outermost, so that an interrupted run has every configuration on its first seeds."""
        combos = ([(c["space"], c["quantizer"], c["optimizer"], c["merge"], c.get("settings", {}))
                   for c in self.configs] if self.configs else
                  [(*parts, {}) for parts in product(self.spaces, self.quantizers, self.optimizers,
                                                     self.merges)])
        def get(own: dict, name: str) -> Any:
            return own.get(name, getattr(self, name))

        return [Trial(t, s, q, o, m, seed, get(own, "budget"), get(own, "max_requested"),
                      get(own, "metric"), get(own, "include"), get(own, "max_drop"),
                      get(own, "fidelity"), get(own, "screen_dtype"), get(own, "fidelity_seed"),
                      get(own, "population_eval"), get(own, "size"), get(own, "size_coding"))
                for seed, t, (s, q, o, m, own) in product(self.all_seeds(), self.tasks, combos)
                if seed in own.get("seeds", self.seeds)]

    def all_seeds(self) -> list[int]:
        """The experiment's seeds, then any a configuration adds with its own ``seeds``."""
        own = [s for c in self.configs or [] for s in c.get("settings", {}).get("seeds", [])]
        return list(dict.fromkeys([*self.seeds, *own]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description,
            **{k: [s.as_dict() for s in getattr(self, k)] for k in LISTS},
            "seeds": list(self.seeds), "budget": self.budget, "max_requested": self.max_requested,
            "metric": self.metric, "include": self.include, "drops": list(self.drops),
            "max_drop": self.max_drop, "device": self.device, "threads": self.threads,
            "exact": {"enabled": self.exact_enabled, "max_points": self.exact_max_points},
            "fidelity": self.fidelity, "screen_dtype": self.screen_dtype,
            **{k: getattr(self, k) for k in NEW_SETTINGS if getattr(self, k) != getattr(DEFAULTS, k)},
            "reference": {k: v.as_dict() for k, v in self.reference.items()},
            **({"configs": configs_as_dict(self.configs)} if self.configs else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Experiment":
        """Rebuild from :meth:`as_dict` output (the ``experiment.json`` of a results folder)."""
        specs = {k: [PluginSpec(kind, s["name"], dict(s["options"]), s["label"]) for s in data[k]]
                 for k, kind in LISTS.items()}
        return cls(name=data["name"], description=data.get("description", ""), **specs,
                   seeds=list(data["seeds"]), budget=int(data["budget"]),
                   max_requested=data["max_requested"], metric=data["metric"],
                   include=data["include"], drops=tuple(data["drops"]), max_drop=data["max_drop"],
                   device=data["device"], threads=data["threads"],
                   fidelity=data.get("fidelity", 1.0), screen_dtype=data.get("screen_dtype", "float32"),
                   **{k: data.get(k, getattr(DEFAULTS, k)) for k in NEW_SETTINGS},
                   exact_enabled=data["exact"]["enabled"], exact_max_points=data["exact"]["max_points"],
                   reference={k: Reference.from_dict(v) for k, v in data["reference"].items()},
                   configs=configs_from_dict(data["configs"]) if data.get("configs") else None)
