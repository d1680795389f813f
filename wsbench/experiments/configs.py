"""An experiment's ``configs``: explicit (space, quantizer, optimizer, merge) combinations.

The lists ``spaces`` x ``quantizers`` x ``optimizers`` x ``merges`` cross every entry with every
other; comparing whole methods (the paper's MO-UB with its merge, NNCodec swept over qp, a codec
searched per tensor) needs each method with its own parts instead. ``configs = [{optimizer =
"nsga2"}, {space = "nncodec", optimizer = "exhaustive", merge = "none"}]`` gives exactly those
combinations (a missing part takes the lists' default); tasks and seeds still multiply them.
A configuration may also name the coding its bits objective counts (``size_coding``: the
paper's pipeline counts Huffman bits, a codec space its own ``native`` payload), so that every
method is searched on its own real size under one experiment-wide ``size = "bits"``. It may also
set its own ``size``, ``budget``, ``fidelity``, ``screen_dtype`` and ``max_drop`` (a method
that needs exact objectives or more of them, or the paper's method on the paper's objective),
and its own ``seeds`` (a count or a list, replacing the experiment's: a deterministic method,
such as an exhaustive sweep, needs one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from wsbench.errors import ConfigError
from wsbench.files.cache import content_key

if TYPE_CHECKING:
    from wsbench.experiments.experiment import PluginSpec

PARTS = {"space": "spaces", "quantizer": "quantizers", "optimizer": "optimizers", "merge": "merges"}
# settings a configuration may set for its own trials (a method's budget and screening are its own)
OWN_SETTINGS = ("size_coding", "size", "budget", "fidelity", "screen_dtype", "max_drop")
DEFAULTS = {"space": "k", "quantizer": "uniform", "merge": "neighbor"}

Fail = Callable[[str, str], ConfigError]
SpecReader = Callable[[Any, str, str, Fail], "PluginSpec"]


def parse_configs(value: Any, read_spec: SpecReader, fail: Fail
                  ) -> tuple[list[dict[str, "PluginSpec"]], dict[str, list["PluginSpec"]]]:
    """The configurations, and each part's distinct entries in order (the report's factors)."""
    if not isinstance(value, list) or not value or not all(isinstance(c, dict) for c in value):
        raise fail("configs", "must be a non-empty list of tables, each with an optimizer "
                              "and optionally a space, quantizer and merge")
    configs, seen = [], {}
    for i, table in enumerate(value):
        extra = sorted(set(table) - set(PARTS) - set(OWN_SETTINGS) - {"seeds"})
        if extra:
            raise fail(f"configs[{i}].{extra[0]}",
                       f"unknown key; valid keys: {', '.join([*PARTS, *OWN_SETTINGS, 'seeds'])}")
        if "optimizer" not in table:
            raise fail(f"configs[{i}]", "missing optimizer")
        config = {part: read_spec(table.get(part, DEFAULTS.get(part)), f"configs[{i}].{part}", part, fail)
                  for part in PARTS}
        config["settings"] = _own_settings(table, f"configs[{i}]")
        ident = content_key(**{p: s.identity() for p, s in config.items() if p in PARTS},
                            settings=config["settings"])
        if ident in seen:
            raise fail(f"configs[{i}]", f"same parts and options as configs[{seen[ident]}]")
        seen[ident] = i
        configs.append(config)
    return configs, {PARTS[p]: _distinct([c[p] for c in configs], p, fail) for p in PARTS}


def _own_settings(table: dict, where: str) -> dict[str, Any]:
    """The configuration's own settings, checked as the experiment-wide ones are."""
    from wsbench import settings
    from wsbench.experiments.experiment_toml import _seeds

    fields = {f.name: f for f in settings.settings_fields(settings.RUN)}
    own = {name: settings.spec(fields[name]).check_value(table[name], f"{where}.{name}")
           for name in OWN_SETTINGS if name in table}
    return own | ({"seeds": _seeds(table["seeds"], f"{where}.seeds")} if "seeds" in table else {})


def _distinct(specs: list["PluginSpec"], part: str, fail: Fail) -> list["PluginSpec"]:
    """One entry per distinct plugin and options; one label must not name two of them."""
    out: dict[str, "PluginSpec"] = {}
    labels: dict[str, str] = {}
    for s in specs:
        ident = content_key(**s.identity())
        if labels.setdefault(s.label, ident) != ident:
            raise fail("configs", f"{part} label {s.label!r} names two different {part}s; "
                                  f"give each a distinct label")
        out.setdefault(ident, s)
    return list(out.values())


def configs_as_dict(configs: list[dict[str, "PluginSpec"]]) -> list[dict[str, Any]]:
    return [{**{part: c[part].as_dict() for part in PARTS},
             **({"settings": c["settings"]} if c.get("settings") else {})} for c in configs]


def configs_from_dict(data: list[dict[str, Any]]) -> list[dict[str, "PluginSpec"]]:
    from wsbench.experiments.experiment import PluginSpec

    return [{**{part: PluginSpec(part, c[part]["name"], dict(c[part]["options"]), c[part]["label"])
                for part in PARTS}, "settings": dict(c.get("settings", {}))} for c in data]
