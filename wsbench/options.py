"""Plugin options: what a plugin's constructor declares, and the one check of a given value.

An option is a keyword parameter of the plugin's factory (a class's ``__init__``, followed up
its bases through ``**options``). Its type is its annotation, or its default's type; a numeric
option's allowed values are declared beside the type::

    def __init__(self, pop_size: Annotated[int, Range(2, 100_000)] = 100, seed: Seed = 0): ...

:func:`check` is the only place a plugin option is refused: ``wsbench.plugins.create`` calls it
(experiment files, ``wsbench compress``, the Python API) and ``--set`` calls it first only to
name the flag. So a value is refused the same way, before any work, wherever it came from, in
one line naming the option, the value and what it takes; ``wsbench plugins --options`` lists
the same declarations.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Callable

from wsbench import validate
from wsbench.errors import ConfigError, suggest

SIMPLE = {"bool": bool, "int": int, "float": float, "str": str}
# numbers.Integral and Real: numpy's scalars pass from the Python API as TOML's ints and floats do
CHECKS = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
          float: lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str)}
NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class Range:
    """The closed (or, with ``lo_open``/``hi_open``, half-open) interval a number must lie in:
    generous, but finite, so that no option can make a run endless or exhaust a machine."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, value: Any) -> bool:
        return (CHECKS[float](value) and _finite(value)
                and (self.lo < value if self.lo_open else self.lo <= value)
                and (value < self.hi if self.hi_open else value <= self.hi))

    def __str__(self) -> str:
        return (f"{'(' if self.lo_open else '['}{_number(self.lo)}, "
                f"{_number(self.hi)}{')' if self.hi_open else ']'}")


def _finite(v: numbers.Real) -> bool:
    """Whether a number is finite; an int always is (and may be too large for a float)."""
    return isinstance(v, numbers.Integral) or math.isfinite(v)


def _number(v: float) -> str:
    """A bound as written: 4294967295, not 4.29497e+09; 1e-07 as Python writes it."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e16 else f"{v:g}"


# ranges several plugins share (the caps of wsbench.validate)
Seed = Annotated[int, Range(0, validate.MAX_SEED)]
Population = Annotated[int, Range(1, validate.MAX_POPULATION)]
Share = Annotated[float, Range(0.0, 1.0)]


@dataclass(frozen=True)
class Option:
    """One declared option: the simple types it takes (None: anything), whether None is one of
    its values, its default and its range."""

    name: str
    types: tuple[type, ...] | None
    none_ok: bool
    default: Any
    range: Range | None

    def describe(self) -> str:
        """``int in [2, 100000] (default 100)``: what ``wsbench plugins --options`` shows."""
        kind = " or ".join(t.__name__ for t in self.types) if self.types else "any"
        kind += " or none" if self.none_ok and self.types else ""
        span = f" in {self.range}" if self.range else ""
        default = "" if self.default is inspect.Parameter.empty else f" (default {self.default!r})"
        return f"{kind}{span}{default}"


def _parts(ann: Any) -> tuple[tuple[type, ...] | None, bool, Range | None]:
    """(simple types, None allowed, range) of an evaluated annotation; types None when it is
    not built of simple types (then the plugin checks the value itself)."""
    if typing.get_origin(ann) is Annotated:
        base, *meta = typing.get_args(ann)
        found, none_ok, _ = _parts(base)
        return found, none_ok, next((m for m in meta if isinstance(m, Range)), None)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        parts = [_parts(a) for a in typing.get_args(ann) if a is not type(None)]
        none_ok = type(None) in typing.get_args(ann)
        if any(p[0] is None for p in parts):
            return None, none_ok, None
        ranges = [p[2] for p in parts if p[2] is not None]
        return tuple(t for p in parts for t in p[0]), none_ok, ranges[0] if ranges else None
    if ann is type(None):
        return (), True, None
    return ((ann,) if ann in CHECKS else None), False, None


def _option(param: inspect.Parameter, namespace: dict[str, Any]) -> Option:
    """An :class:`Option` from a parameter; a string annotation (``from __future__ import
    annotations``) is evaluated in the plugin's module, or read as simple text if it cannot be."""
    ann, default = param.annotation, param.default
    if isinstance(ann, str) and ann:
        try:
            ann = eval(ann, namespace)  # noqa: S307 (the plugin's own annotation, as inspect does)
        except Exception:
            words = [p.strip() for p in ann.split("|")]
            simple = all(p in SIMPLE or p == "None" for p in words)
            found = tuple(SIMPLE[p] for p in words if p in SIMPLE) if simple else None
            return Option(param.name, found or None, "None" in words or default is None, default,
                          None)
    if ann is inspect.Parameter.empty:
        found = (type(default),) if type(default) in CHECKS else None
        return Option(param.name, found, default is None, default, None)
    found, none_ok, span = _parts(ann)
    return Option(param.name, found or None, none_ok or default is None, default, span)


@functools.lru_cache(maxsize=512)
def declared(factory: Callable[..., Any]) -> dict[str, Option] | None:
    """A factory's keyword options, a class's ``**options`` followed up its bases (None when it
    takes anything: a ``**kwargs`` that goes nowhere declared)."""
    target = factory.func if isinstance(factory, functools.partial) else factory
    if isinstance(target, type):
        inits = [c.__init__ for c in target.__mro__ if "__init__" in vars(c) and c is not object]
        if not inits:
            return {}  # object's own __init__: no options at all
    else:
        inits = [target]
    found: dict[str, Option] = {}
    for i, fn in enumerate(inits):
        try:  # the partial's own signature first: its bound arguments are not options
            params = inspect.signature(factory if i == 0 else fn).parameters
        except (TypeError, ValueError):
            return None
        namespace = getattr(inspect.unwrap(fn), "__globals__", {})
        for k, p in params.items():
            if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                found.setdefault(k, _option(p, namespace))
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return found
    return None


def of(kind: str, name: str) -> dict[str, Option] | None:
    """The options of a registered plugin (None when it takes anything, or is unknown: its
    lookup then names the problem)."""
    from wsbench import plugins
    from wsbench.errors import PluginError

    try:
        return declared(plugins.get(kind, name).factory)
    except PluginError:
        return None


def check(kind: str, name: str, options: dict[str, Any], where: str = "") -> None:
    """Refuse, in one line, the first option the plugin does not declare or whose value is not
    of its type or outside its range; an undeclared plugin still gets no NaN, inf or
    population over the cap."""
    known = of(kind, name)
    for option, value in options.items():
        check_one(kind, name, known, option, value, where)


def check_one(kind: str, name: str, known: dict[str, Option] | None, option: str, value: Any,
              where: str = "") -> None:
    """:func:`check` of one option, ``known`` being the plugin's declared options."""
    lead = f"{where}: " if where else ""
    if known is not None and option not in known:
        raise ConfigError(f"{lead}{kind} {name!r} has no option {option!r} "
                          f"(options: {', '.join(sorted(known)) or 'none'})" + suggest(option, known))
    spec = known.get(option) if known is not None else None
    if spec is not None and not (value is None and spec.none_ok):
        if spec.types and not any(CHECKS[t](value) for t in spec.types):
            default = "" if spec.default is inspect.Parameter.empty else f" (default {spec.default!r})"
            raise ConfigError(f"{lead}option {option} of {kind} {name!r} takes "
                              f"{' or '.join(NAMES[t] for t in spec.types)}{default}, got {value!r}")
        if spec.range is not None and value not in spec.range:
            raise ConfigError(f"{lead}option {option} of {kind} {name!r} must be in {spec.range}, "
                              f"got {value!r}")
    if CHECKS[float](value) and not _finite(value):
        raise ConfigError(f"{lead}option {option} of {kind} {name!r} must be a finite number, "
                          f"got {value!r}")
    if (option in validate.POPULATION_OPTIONS and (spec is None or spec.range is None)
            and CHECKS[float](value) and value > validate.MAX_POPULATION):
        raise ConfigError(f"{lead}option {option} of {kind} {name!r} must be at most "
                          f"{validate.MAX_POPULATION} (individuals scored at once), got {value!r}")
