"""Value checks shared by the experiment parser and the command line.

Both paths call the same checker, so a value is refused the same way (one ``ConfigError`` line,
exit 2) whether it comes from a TOML file or a flag, and before anything is loaded, allocated or
run. Each checker takes the value and ``where`` (``"<file>: <key>"`` or ``"--flag"``) and returns
the value it accepted; :func:`arg` turns one into an argparse ``type=``.

Caps keep every size at what the runner can represent and hold in memory: they are far above
any useful experiment and far below what would exhaust a machine.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from wsbench.errors import ConfigError, suggest

MAX_SEED = 2**32 - 1          # numpy's legacy seeding (pymoo) takes 32-bit seeds
MAX_SEEDS = 10_000            # seeds of one experiment
MAX_TRIALS = 100_000          # trials of one experiment (tasks x ... x seeds)
MAX_EVALUATIONS = 1_000_000   # budget and max_requested: each one is kept in the trial's record
MAX_POPULATION = 100_000      # individuals scored at once (population, batch, particles)
MAX_THREADS = 4096
MAX_WORKERS = 4096            # worker processes of an executor
# a Dask scheduler's address: [protocol://]host[:port] (tcp://10.0.0.5:8786, [::1]:8786)
SCHEDULER_RE = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::\d{1,5})?")
MAX_EPOCHS = 100_000
# options of a plugin that declares no range for them capped anyway (wsbench.options)
POPULATION_OPTIONS = ("pop_size", "popsize", "batch_size", "n_particles", "n_clusters",
                      "n_partitions")
MAX_NAME = 100
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEVICE_RE = re.compile(r"auto|cpu|mps|cuda(:[0-9]{1,3})?")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(value: Any, where: str, lo: float, hi: float = math.inf, lo_open: bool = False,
           hi_open: bool = False) -> float:
    """A finite number in the interval (NaN and inf pass most comparisons unnoticed)."""
    span = (f"{'>' if lo_open else '>='} {lo:g}" if hi == math.inf
            else f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")
    ok = _is_number(value) and math.isfinite(value) and (lo < value if lo_open else lo <= value) \
        and (value < hi if hi_open else value <= hi)
    if not ok:
        raise ConfigError(f"{where}: must be a finite number {span}, got {value!r}")
    return float(value)


def integer(value: Any, where: str, lo: int, hi: int) -> int:
    """An int (not a bool) in [lo, hi]."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: must be int, got {type(value).__name__} {value!r}")
    if value < lo:
        raise ConfigError(f"{where}: must be at least {lo}, got {value}")
    if value > hi:
        raise ConfigError(f"{where}: must be at most {hi} (the cap wsbench supports), got {value}")
    return value


def drop(value: Any, where: str) -> float:
    """An allowed validation drop: a share of the metric, in [0, 1)."""
    return number(value, where, 0.0, 1.0, hi_open=True)


def fidelity(value: Any, where: str) -> float:
    """The share of the validation split the search scores on, in (0, 1]."""
    return number(value, where, 0.0, 1.0, lo_open=True)


def seed(value: Any, where: str) -> int:
    return integer(value, where, 0, MAX_SEED)


def budget(value: Any, where: str) -> int:
    return integer(value, where, 1, MAX_EVALUATIONS)


def population(value: Any, where: str) -> int:
    """A number of samples or individuals processed at once."""
    return integer(value, where, 1, MAX_POPULATION)


def epochs(value: Any, where: str) -> int:
    return integer(value, where, 0, MAX_EPOCHS)


def threads(value: Any, where: str) -> int:
    return integer(value, where, 1, MAX_THREADS)


def workers(value: Any, where: str) -> int:
    return integer(value, where, 1, MAX_WORKERS)


def scheduler(value: Any, where: str) -> str | None:
    """A scheduler address (syntax only: whether it answers is checked when connecting)."""
    if value is None:
        return None
    if not isinstance(value, str) or not SCHEDULER_RE.fullmatch(value):
        raise ConfigError(f"{where}: must be a scheduler address such as tcp://HOST:8786, "
                          f"got {value!r}")
    return value


def positive(value: Any, where: str) -> float:
    return number(value, where, 0.0, lo_open=True)


def requested(value: Any, where: str) -> int:
    return integer(value, where, 1, MAX_EVALUATIONS)


def tolerance(value: Any, where: str) -> float:
    """A merge's allowed validation drop (a share of the metric: at most all of it)."""
    return number(value, where, 0.0, 1.0)


def drops(value: Any, where: str) -> tuple[float, ...]:
    """Drop levels a report ranks at: a non-empty list of shares, kept sorted."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}: must be a non-empty list of numbers in [0, 1), got {value!r}")
    return tuple(sorted(drop(d, where) for d in value))


def typed(value: Any, where: str, kind: type) -> Any:
    """``value`` if it is a ``kind`` (a bool is not an int here, as TOML sees it)."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: must be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def table(value: Any, where: str, allowed: set[str]) -> dict:
    """A TOML table holding only ``allowed`` keys (a misspelt key is an error, not ignored)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a table, got {type(value).__name__}")
    extra = sorted(set(value) - allowed)
    if extra:
        raise ConfigError(f"{where}.{extra[0]}: unknown key; valid keys: {', '.join(sorted(allowed))}")
    return value


def one_of(value: Any, where: str, choices: tuple[str, ...], noun: str = "") -> str:
    """A string among ``choices``; the error lists them (as ``valid <noun>s`` when named)."""
    typed(value, where, str)
    if value in choices:
        return value
    if noun:
        raise ConfigError(f"{where}: unknown {noun} {value!r}; valid {noun}s: {', '.join(choices)}"
                          + suggest(value, choices))
    listed = (" or ".join(map(repr, choices)) if len(choices) == 2
              else "one of " + ", ".join(map(repr, choices)))
    raise ConfigError(f"{where}: must be {listed}, got {value!r}")


def name_problem(value: Any) -> str | None:
    """Why ``value`` is not a plain name, or None when it is one."""
    if isinstance(value, str) and NAME_RE.fullmatch(value) and len(value) <= MAX_NAME:
        return None
    return (f"must be a plain name (letters, digits, '.', '_', '-', starting with a letter or "
            f"digit, at most {MAX_NAME} characters: it becomes part of a path), got {value!r}")


def plain_name(value: Any, where: str) -> str:
    """A name that is safe as one path component: no separator, no '..', no hidden file."""
    problem = name_problem(value)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    return value


def device(value: Any, where: str) -> str | None:
    """A torch device string (syntax only: the file may be checked on another machine)."""
    if value is None:
        return None
    if not isinstance(value, str) or not DEVICE_RE.fullmatch(value):
        raise ConfigError(f"{where}: must be auto, cpu, mps, cuda or cuda:N, got {value!r}")
    return value


def device_available(value: str | None, where: str) -> None:
    """Refuse a CUDA device this machine does not have, before any work starts."""
    if not value or not value.startswith("cuda"):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(value.partition(":")[2] or 0)
    if index >= count:
        raise ConfigError(f"{where}: {value} is not available here ({count} CUDA device(s))")


def arg(check: Callable[[Any, str], Any], flag: str, kind: type = float) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads ``kind`` and applies ``check``; errors are ConfigError,
    which the CLI prints as one ``wsbench: error:`` line (argparse would print its usage)."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(f"{flag}: must be {'an integer' if kind is int else 'a number'}, "
                              f"got {text!r}") from None
        return check(value, flag)

    convert.__name__ = flag.lstrip("-").replace("-", "_")
    return convert
