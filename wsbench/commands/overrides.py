"""Command-line overrides of an experiment file: ``--seeds``, ``--budget`` and ``--set KEY=VALUE``.

A run sized from the command line must mean exactly what the same values written in the file
would mean: the overrides edit the parsed TOML, which is then validated like any file, so the
trial keys change with them and a smaller run never mixes its records with the file's. The
stored experiment text starts with a comment naming the overrides, so the results folder says
how it was made.

``--set`` keys: a top-level setting (``budget=50``, ``fidelity=0.1``), a setting of a table
(``indicator.d_max=256``), or a plugin option, on every plugin of a list that takes it
(``optimizer.pop_size=10``) or on one by name (``optimizer.nsga2.pop_size=10``). Values are
read as TOML (``10``, ``0.5``, ``true``, ``"text"``, ``[1, 2]``); anything else is a string.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any, Iterable

from wsbench import options as plugin_options
from wsbench.errors import ConfigError, suggest

PLUGIN_LISTS = {"task": "tasks", "space": "spaces", "quantizer": "quantizers",
                "optimizer": "optimizers", "merge": "merges"}


def parse_seeds(text: str) -> int | list[int]:
    """``3`` (three seeds, as ``seeds = 3`` in a file), ``0-2`` (a range) or ``1,4,7`` (a list)."""
    try:
        if "-" in text.strip().lstrip("-"):
            lo, hi = (int(v) for v in text.split("-", 1))
            if hi < lo:
                raise ValueError
            return list(range(lo, hi + 1))
        if "," in text:
            return [int(v) for v in text.split(",") if v.strip()]
        return int(text)
    except ValueError:
        raise ConfigError(f"--seeds: expected a count (3), a range (0-2) or a list (1,4,7), "
                          f"got {text!r}") from None


def read_value(text: str) -> Any:
    """A TOML value; else a number Python reads (``NaN``, ``Infinity``: refused later as not
    finite, by name); else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except ValueError:  # TOMLDecodeError, or an integer of more digits than Python converts
        pass
    except RecursionError:
        raise ConfigError(f"--set: a value nested too deeply ({len(text)} characters)") from None
    try:
        return float(text)
    except ValueError:
        return text


def apply(data: dict[str, Any], seeds: str | None = None, budget: int | None = None,
          sets: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of the parsed experiment ``data`` with the overrides in place."""
    out = copy.deepcopy(data)
    if seeds is not None:
        out["seeds"] = parse_seeds(seeds)
    if budget is not None:
        out["budget"] = budget
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. optimizer.pop_size=10")
        _set(out, key.strip(), read_value(text.strip()), item)
    return out


def _set(data: dict[str, Any], key: str, value: Any, item: str) -> None:
    parts = key.split(".")
    kind = parts[0].rstrip("s") if parts[0].rstrip("s") in PLUGIN_LISTS else None
    if kind is None or len(parts) == 1:
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {item}: {part!r} is not a table of the experiment file")
        target[parts[-1]] = value
        return
    if len(parts) > 3:
        raise ConfigError(f"--set {item}: expected {kind}.OPTION or {kind}.NAME.OPTION")
    entries = data.get(PLUGIN_LISTS[kind], [])
    names = [e if isinstance(e, str) else e.get("name") if isinstance(e, dict) else None
             for e in entries]
    only, option = (parts[1], parts[2]) if len(parts) == 3 else (None, parts[1])
    if only is not None and only not in names:
        raise ConfigError(f"--set {item}: the experiment has no {kind} {only!r}"
                          + suggest(only, [n for n in names if n]))
    takers = []
    for i, name in enumerate(names):
        if name is None or (only is not None and name != only):
            continue
        params = plugin_options.of(kind, name)
        if only is None and params is not None and option not in params:
            continue  # a list-wide option goes to the plugins that take it
        plugin_options.check_one(kind, name, params, option, value, f"--set {item}")
        entry = entries[i] if isinstance(entries[i], dict) else {"name": name}
        entry[option] = value
        entries[i] = entry
        takers.append(name)
    if not takers:
        known = {p for n in names if n for p in (plugin_options.of(kind, n) or {})}
        raise ConfigError(f"--set {item}: no {kind} of this experiment takes option {option!r}"
                          + suggest(option, known))


def check_options(kind: str, name: str, options: dict[str, Any], flag: str = "--set") -> None:
    """Each option checked by :func:`wsbench.options.check` (declared, typed, in range) before
    any task loads, the error naming the flag."""
    known = plugin_options.of(kind, name)
    for option, value in options.items():
        plugin_options.check_one(kind, name, known, option, value, f"{flag} {kind}.{option}={value}")


def header(seeds: str | None, budget: int | None, sets: Iterable[str]) -> str:
    """The comment put before the stored experiment text: what the command line changed."""
    flags = ([f"--seeds {seeds}"] if seeds is not None else []) + \
        ([f"--budget {budget}"] if budget is not None else []) + [f"--set {s}" for s in sets]
    return ("# overridden on the command line (these win over the values below): "
            + " ".join(flags) + "\n") if flags else ""
