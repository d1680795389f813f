"""Experiment configuration: a TOML file -> a validated :class:`Experiment` -> its trials.

An experiment is tasks x spaces x quantizers x optimizers x merges x seeds; each combination is
one :class:`Trial` with a budget in unique evaluations. Every plugin entry is a name or a table
``{name = "nsga2", label = "nsga2-p20", pop_size = 20}`` (``label`` names it in reports; the
other keys are the plugin's options). Validation is strict and every problem is one line:
``<file>: <key>: <what is wrong>``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from itertools import product
from math import isfinite, prod
from pathlib import Path
from typing import Any

from wsbench import validate
from wsbench.cache import content_key
from wsbench.errors import ConfigError, WsbenchError
from wsbench.indicators import D_SCALES, Reference

TRIAL_FORMAT = 1
LISTS = {"tasks": "task", "spaces": "space", "quantizers": "quantizer", "optimizers": "optimizer",
         "merges": "merge"}
DEFAULT_LISTS = {"spaces": ["k"], "quantizers": ["uniform"], "merges": ["neighbor"]}
TOP_KEYS = {"name", "description", "seeds", "budget", "max_requested", "metric", "include",
            "max_drop", "drops", "device", "threads", "exact", "indicator", "fidelity",
            "screen_dtype", *LISTS}
EXACT_KEYS = {"enabled", "max_points"}
REFERENCE_KEYS = {"f1_max", "d_scale", "d_max", "ref_point"}


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

    def screening(self) -> dict[str, Any]:
        """Screening options that differ from the default (full split, fp32)."""
        out: dict[str, Any] = {}
        if self.fidelity != 1.0:
            out["fidelity"] = self.fidelity
        if self.screen_dtype != "float32":
            out["screen_dtype"] = self.screen_dtype
        return out

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
    def harness_key(self) -> tuple[str, str, str]:
        """Trials sharing this key share one harness (trained model, data, quantizer, space)."""
        return tuple(content_key(**getattr(self, k).identity()) for k in ("task", "space", "quantizer"))  # type: ignore[return-value]


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
    fidelity: float = 1.0
    screen_dtype: str = "float32"
    reference: dict[str, Reference] = field(default_factory=dict)
    description: str = ""
    source: str = ""  # the TOML text it was read from

    def trials(self) -> list[Trial]:
        """Seeds outermost, so that an interrupted run has every configuration on its first seeds."""
        return [Trial(t, s, q, o, m, seed, self.budget, self.max_requested, self.metric,
                      self.include, self.max_drop, self.fidelity, self.screen_dtype)
                for seed, t, s, q, o, m in product(self.seeds, self.tasks, self.spaces,
                                                   self.quantizers, self.optimizers, self.merges)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description,
            **{k: [s.as_dict() for s in getattr(self, k)] for k in LISTS},
            "seeds": list(self.seeds), "budget": self.budget, "max_requested": self.max_requested,
            "metric": self.metric, "include": self.include, "drops": list(self.drops),
            "max_drop": self.max_drop, "device": self.device, "threads": self.threads,
            "exact": {"enabled": self.exact_enabled, "max_points": self.exact_max_points},
            "fidelity": self.fidelity, "screen_dtype": self.screen_dtype,
            "reference": {k: v.as_dict() for k, v in self.reference.items()},
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
                   exact_enabled=data["exact"]["enabled"], exact_max_points=data["exact"]["max_points"],
                   reference={k: Reference.from_dict(v) for k, v in data["reference"].items()})


# -- reading and validating ----------------------------------------------------------------
def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file (ConfigError naming the file and key)."""
    from wsbench.errors import reraised
    from wsbench.safe_io import read_regular_file

    path = Path(path)  # a regular file of at most 16 MiB: never a FIFO, device or binary blob
    raw = read_regular_file(path, ConfigError, "experiment file", limit=16 << 20)
    with reraised(ConfigError, f"{path}: not a UTF-8 text file", UnicodeDecodeError):
        text = raw.decode("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return parse_experiment(data, source=str(path), text=text)


def parse_experiment(data: dict[str, Any], source: str = "<experiment>", text: str = "") -> Experiment:
    def fail(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {msg}")

    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key; valid keys: {', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "tasks", "optimizers", "budget"):
        if key not in data:
            raise fail(key, "missing (required: name, tasks, optimizers, budget)")
    def at(key: str) -> str:
        return f"{source}: {key}"

    name = validate.plain_name(data["name"], at("name"))
    seeds = _seeds(data.get("seeds", [0]), at("seeds"))
    specs = {key: _plugin_list(data.get(key, DEFAULT_LISTS.get(key)), key, kind, fail)
             for key, kind in LISTS.items()}
    n_trials = len(seeds) * prod(len(v) for v in specs.values())
    if n_trials > validate.MAX_TRIALS:
        raise fail("seeds", f"{n_trials} trials (seeds x every list) is more than the cap "
                            f"of {validate.MAX_TRIALS}")
    budget = validate.budget(data["budget"], at("budget"))
    max_requested = (validate.integer(data["max_requested"], at("max_requested"), 1,
                                      validate.MAX_EVALUATIONS) if "max_requested" in data else None)
    if max_requested is not None and max_requested < budget:
        raise fail("max_requested", f"must be >= budget ({budget}), got {max_requested}")
    from wsbench.metrics import METRICS

    metric = _typed(data, "metric", str, fail, "f1")
    if metric not in METRICS:
        raise fail("metric", f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
    include = _typed(data, "include", str, fail, "conv-linear")
    if include not in ("conv-linear", "all"):
        raise fail("include", f"must be 'conv-linear' or 'all', got {include!r}")
    drops = data.get("drops", [0.005, 0.01])
    if not isinstance(drops, list) or not drops:
        raise fail("drops", f"must be a non-empty list of numbers in [0, 1), got {drops!r}")
    drops = tuple(sorted(validate.drop(d, at("drops")) for d in drops))
    max_drop = validate.drop(data.get("max_drop", drops[-1]), at("max_drop"))
    if max_drop < drops[-1]:
        raise fail("max_drop", f"must be >= the largest of drops ({drops[-1]}), got {max_drop}")
    device = validate.device(data.get("device"), at("device"))
    threads = (validate.integer(data["threads"], at("threads"), 1, validate.MAX_THREADS)
               if "threads" in data else None)
    exact = _table(data, "exact", EXACT_KEYS, fail)
    exact_enabled = _typed(exact, "enabled", bool, lambda k, m: fail(f"exact.{k}", m), True)
    exact_max = validate.integer(exact.get("max_points", 5000), at("exact.max_points"), 1,
                                 validate.MAX_EVALUATIONS)
    reference = _references(data, [t.label for t in specs["tasks"]], fail)
    fidelity = validate.fidelity(data.get("fidelity", 1.0), at("fidelity"))
    screen_dtype = _typed(data, "screen_dtype", str, fail, "float32")
    if screen_dtype not in ("float32", "bfloat16"):
        raise fail("screen_dtype", f"must be 'float32' or 'bfloat16', got {screen_dtype!r}")
    exp = Experiment(name=name, description=_typed(data, "description", str, fail, ""), **specs,
                     seeds=seeds, budget=budget, max_requested=max_requested, metric=metric,
                     include=include, drops=drops, max_drop=max_drop, device=device,
                     threads=threads, exact_enabled=exact_enabled, exact_max_points=exact_max,
                     fidelity=fidelity, screen_dtype=screen_dtype, reference=reference, source=text)
    return exp


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _typed(data: dict, key: str, typ: type, fail, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise fail(key, "missing")
        return default
    value = data[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise fail(key, f"must be {typ.__name__}, got {type(value).__name__} {value!r}")
    return value


def _number(data: dict, key: str, fail, default: float) -> float:
    value = data.get(key, default)
    if not _is_number(value):
        raise fail(key, f"must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _table(data: dict, key: str, allowed: set[str], fail) -> dict:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise fail(key, f"must be a table, got {type(table).__name__}")
    extra = sorted(set(table) - allowed)
    if extra:
        raise fail(f"{key}.{extra[0]}", f"unknown key; valid keys: {', '.join(sorted(allowed))}")
    return table


def _seeds(value: Any, where: str) -> list[int]:
    """A list of distinct seeds, or a count n meaning 0..n-1 (both capped before any list is made)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return list(range(validate.integer(value, where, 1, validate.MAX_SEEDS)))
    if not isinstance(value, list) or not 0 < len(value) <= validate.MAX_SEEDS:
        raise ConfigError(f"{where}: must be a count or a non-empty list of at most "
                          f"{validate.MAX_SEEDS} non-negative integers, got {value!r}")
    seeds = [validate.seed(s, where) for s in value]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: has duplicates: {value!r}")
    return seeds


def _plugin_list(value: Any, key: str, kind: str, fail) -> list[PluginSpec]:
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail(key, f"must be a non-empty list of {kind} names or tables, got {value!r}")
    specs = [_plugin_spec(item, f"{key}[{i}]", kind, fail) for i, item in enumerate(value)]
    seen: dict[str, int] = {}
    for i, s in enumerate(specs):
        if s.label in seen:
            raise fail(f"{key}[{i}]", f"label {s.label!r} is used twice (entries {seen[s.label]} and {i}); "
                                      f"give each entry a distinct label")
        seen[s.label] = i
    idents = [content_key(**s.identity()) for s in specs]
    for i, ident in enumerate(idents):
        if idents.index(ident) != i:
            raise fail(f"{key}[{i}]", f"same {kind} and options as entry {idents.index(ident)}")
    return specs


def _plugin_spec(item: Any, key: str, kind: str, fail) -> PluginSpec:
    from wsbench import plugins

    if isinstance(item, str):
        name, options, label = item, {}, None
    elif isinstance(item, dict):
        options = dict(item)
        name = options.pop("name", None)
        label = options.pop("label", None)
        if not isinstance(name, str):
            raise fail(key, f"a {kind} table needs name = \"...\" (a string)")
        if label is not None and validate.name_problem(label):
            raise fail(f"{key}.label", validate.name_problem(label))
    else:
        raise fail(key, f"must be a {kind} name or a table, got {type(item).__name__} {item!r}")
    if label is None:
        label = name if not options else name + "(" + ",".join(f"{k}={v}" for k, v in sorted(options.items())) + ")"
    spec = PluginSpec(kind, name, options, label)
    try:
        plugins.get(kind, name)
        spec.create()  # constructors are cheap by contract and validate their options
    except WsbenchError as exc:
        raise fail(key, str(exc)) from None
    return spec


def _references(data: dict, task_labels: list[str], fail) -> dict[str, Reference]:
    """Per-task indicator normalisation: [indicator] defaults, [indicator.tasks.<label>] overrides."""
    table = _table(data, "indicator", REFERENCE_KEYS | {"tasks"}, fail)
    overrides = table.get("tasks", {})
    if not isinstance(overrides, dict):
        raise fail("indicator.tasks", "must be a table of task labels")
    for label in overrides:
        if label not in task_labels:
            raise fail(f"indicator.tasks.{label}", f"not a task of this experiment; tasks: {', '.join(task_labels)}")
    defaults = {k: v for k, v in table.items() if k != "tasks"}
    out = {}
    for label in task_labels:
        where = f"indicator.tasks.{label}" if label in overrides else "indicator"
        over = overrides.get(label, {})
        if not isinstance(over, dict):
            raise fail(where, "must be a table")
        extra = sorted(set(over) - REFERENCE_KEYS)
        if extra:
            raise fail(f"{where}.{extra[0]}", f"unknown key; valid keys: {', '.join(sorted(REFERENCE_KEYS))}")
        out[label] = _reference({**defaults, **over}, lambda k, m, w=where: fail(f"{w}.{k}", m))
    return out


def _reference(values: dict, fail) -> Reference:
    ref = Reference()
    f1_max = _number(values, "f1_max", fail, ref.f1_max)
    d_max = _number(values, "d_max", fail, ref.d_max)
    d_scale = _typed(values, "d_scale", str, fail, ref.d_scale)
    point = values.get("ref_point", list(ref.ref_point))
    if not 0 < f1_max <= 1:
        raise fail("f1_max", f"must be in (0, 1], got {f1_max}")
    if d_scale not in D_SCALES:
        raise fail("d_scale", f"must be one of {', '.join(D_SCALES)}, got {d_scale!r}")
    if not (d_max >= 2 and isfinite(d_max)):
        raise fail("d_max", f"must be a finite number >= 2, got {d_max}")
    if not (isinstance(point, list) and len(point) == 2
            and all(_is_number(v) and 0 < v and isfinite(v) for v in point)):
        raise fail("ref_point", f"must be two positive numbers (normalised objectives), got {point!r}")
    return replace(ref, f1_max=f1_max, d_max=d_max, d_scale=d_scale,
                   ref_point=(float(point[0]), float(point[1])))
