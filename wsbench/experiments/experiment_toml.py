"""Reading experiment files: TOML -> checked values -> an :class:`~wsbench.experiments.experiment.Experiment`.

Kept apart from the data model so that the model stays small; the run-wide settings are read
through :mod:`wsbench.settings` (the same checks as ``wsbench compress``'s flags). Every problem
is one line: ``<file>: <key>: <what is wrong>``.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from math import isfinite, prod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from wsbench import settings, validate
from wsbench.errors import ConfigError, WsbenchError
from wsbench.experiments.indicators import D_SCALES, Reference
from wsbench.files.cache import content_key

if TYPE_CHECKING:
    from wsbench.experiments.experiment import Experiment, PluginSpec

DEFAULT_LISTS = {"spaces": ["k"], "quantizers": ["uniform"], "merges": ["neighbor"]}
OWN_KEYS = {"name", "description", "seeds", "indicator", "tasks", "spaces", "quantizers",
            "optimizers", "merges", "configs"}
TOP_KEYS = OWN_KEYS | settings.toml_keys()[""]
EXACT_KEYS = settings.toml_keys()["exact"]
# the bits objective counts index bits per weight: at most 32 (fp32), at least 1 (Huffman)
BITS_REFERENCE = Reference(d_max=32.0)
REFERENCE_KEYS = {"f1_max", "d_scale", "d_max", "ref_point"}
REQUIRED_KEYS = ("name", "tasks", "optimizers",
                 *(settings.toml_key(f) for f in settings.settings_fields(settings.RUN)
                   if settings.toml_default(f) is settings.REQUIRED))


def load_experiment(path: str | Path) -> "Experiment":
    """Read and validate an experiment TOML file (ConfigError naming the file and key)."""
    from wsbench.errors import reraised
    from wsbench.files.safe_io import read_regular_file

    path = Path(path)  # a regular file of at most 16 MiB: never a FIFO, device or binary blob
    raw = read_regular_file(path, ConfigError, "experiment file", limit=16 << 20)
    with reraised(ConfigError, f"{path}: not a UTF-8 text file", UnicodeDecodeError):
        text = raw.decode("utf-8")
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer too long for Python to convert
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return parse_experiment(data, source=str(path), text=text)




def parse_experiment(data: dict[str, Any], source: str = "<experiment>", text: str = "") -> "Experiment":
    """Check a parsed experiment file; the first problem found is raised as one line."""
    from wsbench.experiments.experiment import LISTS, Experiment

    def fail(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {msg}")

    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key; valid keys: {', '.join(sorted(TOP_KEYS))}")
    for key in REQUIRED_KEYS:
        if key not in data and not (key == "optimizers" and "configs" in data):
            raise fail(key, f"missing (required: {', '.join(REQUIRED_KEYS)}; or configs "
                            f"instead of optimizers)")
    name = validate.plain_name(data["name"], f"{source}: name")
    seeds = _seeds(data.get("seeds", [0]), f"{source}: seeds")
    specs, configs = _specs(data, fail)
    n_trials = len(seeds) * len(specs["tasks"]) * (
        len(configs) if configs else prod(len(v) for k, v in specs.items() if k != "tasks"))
    if n_trials > validate.MAX_TRIALS:
        raise fail("seeds", f"{n_trials} trials (seeds x every list) is more than the cap "
                            f"of {validate.MAX_TRIALS}")
    values = _settings(data, source, fail)
    reference = _references(data, [t.label for t in specs["tasks"]], source, fail,
                            BITS_REFERENCE if values["size"] == "bits" else Reference())
    description = validate.typed(data.get("description", ""), f"{source}: description", str)
    return Experiment(name=name, description=description, **specs, seeds=seeds, **values,
                      reference=reference, source=text, configs=configs)


def _specs(data: dict[str, Any], fail) -> tuple[dict[str, list["PluginSpec"]], list | None]:
    """The plugin lists, and the explicit configurations when the file gives ``configs``."""
    from wsbench.experiments.configs import PARTS, parse_configs
    from wsbench.experiments.experiment import LISTS

    tasks = _plugin_list(data["tasks"], "tasks", "task", fail)
    if "configs" not in data:
        return {key: _plugin_list(data.get(key, DEFAULT_LISTS.get(key)), key, kind, fail)
                for key, kind in LISTS.items() if key != "tasks"} | {"tasks": tasks}, None
    both = [key for key in PARTS.values() if key in data]
    if both:
        raise fail(both[0], "give either configs or the lists spaces, quantizers, optimizers "
                            "and merges, not both")
    configs, lists = parse_configs(data["configs"], _plugin_spec, fail)
    return {"tasks": tasks, **lists}, configs


def _settings(data: dict[str, Any], source: str, fail: Callable[[str, str], ConfigError]) -> dict[str, Any]:
    """The file's run settings, absent ones at their defaults, and the checks between them."""
    given = settings.from_toml(data, source)
    values = {f.name: given.get(f.name, settings.toml_default(f))
              for f in settings.settings_fields(settings.RUN)}
    budget, max_requested = values["budget"], values["max_requested"]
    if max_requested is not None and max_requested < budget:
        raise fail("max_requested", f"must be >= budget ({budget}), got {max_requested}")
    largest = values["drops"][-1]
    if values["max_drop"] is settings.DERIVED:
        values["max_drop"] = largest
    elif values["max_drop"] < largest:
        raise fail("max_drop", f"must be >= the largest of drops ({largest}), got {values['max_drop']}")
    return values


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(data: dict, key: str, fail, default: float) -> float:
    value = data.get(key, default)
    if not _is_number(value):
        raise fail(key, f"must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _typed(data: dict, key: str, typ: type, fail, default: Any) -> Any:
    value = data.get(key, default)
    if not isinstance(value, typ):
        raise fail(key, f"must be {typ.__name__}, got {type(value).__name__} {value!r}")
    return value


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


def _plugin_list(value: Any, key: str, kind: str, fail) -> list["PluginSpec"]:
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


def _plugin_spec(item: Any, key: str, kind: str, fail) -> "PluginSpec":
    from wsbench import plugins
    from wsbench.experiments.experiment import PluginSpec

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


def _references(data: dict, task_labels: list[str], source: str, fail,
                base: Reference) -> dict[str, Reference]:
    """Per-task indicator normalisation: [indicator] defaults, [indicator.tasks.<label>] overrides."""
    table = validate.table(data.get("indicator", {}), f"{source}: indicator", REFERENCE_KEYS | {"tasks"})
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
        out[label] = _reference({**defaults, **over}, lambda k, m, w=where: fail(f"{w}.{k}", m), base)
    return out


def _reference(values: dict, fail, ref: Reference) -> Reference:
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
