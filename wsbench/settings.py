"""Run-wide settings, declared once for experiment files and ``wsbench compress``.

Each :class:`RunSettings` field carries a :class:`Spec` (type, check, choices, help, TOML key,
CLI flag, commands), and both front ends are derived from it: the experiment parser reads the
TOML keys through :func:`from_toml`, ``wsbench compress`` gets its flags from
:func:`add_arguments`. A setting is therefore offered the same way in both and refused by the
same checker of :mod:`wsbench.validate` with the same message; only ``where`` differs
(``"<file>: <key>"`` or ``"--flag"``). Importing this module stays cheap (no torch): the CLI
builds its parser from it for ``--help``.
"""

from __future__ import annotations

import argparse
from dataclasses import Field, dataclass, field, fields
from typing import Any, Callable

from wsbench import validate
from wsbench.search.choices import (  # the harness's, offered here
    POPULATION_EVALS,
    SCREEN_DTYPES,
    SIZE_CODINGS,
    SIZES,
)
from wsbench.search.metrics import METRICS

RUN, COMPRESS = "run", "compress"
BOTH = frozenset({RUN, COMPRESS})
INCLUDES = ("conv-linear", "all")
FILE_CODINGS = ("huffman", "huffman-layer", "adaptive", "native")  # what `wsbench compress` may save files with
REQUIRED = object()   # Spec.toml_default: an experiment file must give the key
DERIVED = object()    # Spec.toml_default: the experiment parser derives it from other keys
SAME = object()       # Spec.toml_default: the field's own default
# carried by a trial, and part of its key and record only when not at their default
SCREENING = ("fidelity", "screen_dtype", "fidelity_seed", "population_eval", "size", "size_coding")


@dataclass(frozen=True)
class Spec:
    """How one setting is read, checked and documented."""

    help: str
    kind: type = str
    check: Callable[[Any, str], Any] | None = None  # a wsbench.validate checker
    choices: tuple[str, ...] = ()
    noun: str = ""                  # choice errors read "unknown <noun> ...; valid <noun>s: ..."
    toml: str | None = ""           # "" -> the field's name; "table.key" for a nested key
    flag: str | None = ""           # "" -> --field-name
    commands: frozenset[str] = BOTH
    toml_default: Any = SAME

    def check_value(self, value: Any, where: str) -> Any:
        """The one check of this setting, whichever front end the value came from."""
        if self.choices:
            return validate.one_of(value, where, self.choices, self.noun)
        if self.check is not None:
            return self.check(value, where)
        return validate.typed(value, where, self.kind)


def setting(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field whose metadata is a :class:`Spec`."""
    return field(default=default, metadata={"spec": Spec(help, **spec)})


def _executor(value: Any, where: str) -> str:
    """An executor plugin's name (``wsbench plugins --kind executor``)."""
    from wsbench import plugins
    from wsbench.errors import ConfigError, PluginError

    name = validate.typed(value, where, str)
    try:
        plugins.get("executor", name)
    except PluginError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return name


@dataclass(frozen=True)
class RunSettings:
    """Every run-wide setting; field order is the order an experiment file is checked in."""

    budget: int = setting(1000, f"unique evaluations, at most {validate.MAX_EVALUATIONS} "
                                "(default: 1000)", kind=int, check=validate.budget,
                          toml_default=REQUIRED)
    max_requested: int | None = setting(
        10_000, "cap on requested evaluations, cached included (default: 10000 = 100x100)",
        kind=int, check=validate.requested, toml_default=None)
    metric: str = setting("f1", "validation metric: macro F1 (default) or accuracy",
                          choices=METRICS, noun="metric")
    include: str = setting("conv-linear", "weights to share: Conv/Linear .weight (paper) or every "
                                          "float parameter", choices=INCLUDES)
    drops: tuple[float, ...] = setting((0.005, 0.01), "allowed validation drops reports rank at",
                                       kind=list, check=validate.drops, flag=None,
                                       commands=frozenset({RUN}))
    max_drop: float = setting(0.0, "keep front solutions whose val metric is >= baseline - this "
                                   "(default 0)", kind=float, check=validate.drop,
                              toml_default=DERIVED)
    device: str | None = setting(None, "cpu, cuda, cuda:1 ... (default: CUDA if present)",
                                 check=validate.device)
    threads: int | None = setting(None, "torch intra-op threads of the run", kind=int,
                                  check=validate.threads, flag=None, commands=frozenset({RUN}))
    exact_enabled: bool = setting(True, "compute the exact front where the space allows it",
                                  kind=bool, toml="exact.enabled", flag=None,
                                  commands=frozenset({RUN}))
    exact_max_points: int = setting(5000, "largest space the exact front enumerates", kind=int,
                                    check=validate.requested, toml="exact.max_points", flag=None,
                                    commands=frozenset({RUN}))
    executor: str = setting("local", "where trials run: local (this process, one after another; "
                                     "default), process (a pool of local processes) or dask (a "
                                     "Dask cluster)", check=_executor,
                            toml="run.executor", commands=frozenset({RUN}))
    scheduler: str | None = setting(None, "address of a running Dask scheduler, e.g. "
                                          "tcp://HOST:8786 (executor dask; without it a local "
                                          "cluster is started and closed)",
                                    check=validate.scheduler, toml="run.scheduler",
                                    commands=frozenset({RUN}))
    workers: int | None = setting(None, "worker processes of executor process or of dask's local "
                                        "cluster (default: one per core); with a scheduler, wait "
                                        "until this many workers have joined", kind=int,
                                  check=validate.workers, toml="run.workers",
                                  commands=frozenset({RUN}))
    fidelity: float = setting(1.0, "share of the validation split the search scores candidates "
                                   "on (default 1); the front is re-scored on all of it",
                              kind=float, check=validate.fidelity)
    screen_dtype: str = setting("float32", "dtype of the search's forwards (bf16 autocast); "
                                           "reported scores are fp32", choices=SCREEN_DTYPES)
    fidelity_seed: int = setting(0, "seed of the validation subset the search scores on when "
                                    "fidelity < 1 (default 0)", kind=int, check=validate.seed)
    population_eval: str = setting("auto", "score a population one by one or in one vmapped "
                                           "forward (default auto: batched on CUDA, loop on CPU)",
                                   choices=POPULATION_EVALS)
    size: str = setting("d", "the size objective the search minimises: d, the number of shared "
                             "values (the paper), or bits, the coded index bits per shared weight "
                             "(default d)", choices=SIZES)
    size_coding: str = setting("huffman-layer", "the coding whose index bits the bits objective "
                                                "counts (default: one Huffman table per tensor)",
                               choices=SIZE_CODINGS)
    coding: str = setting("huffman", "coding of the saved files: one Huffman table (paper, "
                                     "default), one per tensor over the same global codebook, or "
                                     "adaptive: context-adaptive binary arithmetic coding of the "
                                     "same indices (DeepCABAC-like; all lossless; the table "
                                     "prints every coding), or native: a codec space's own "
                                     "payload (e.g. nncodec; with merge none)",
                          choices=FILE_CODINGS, toml=None, commands=frozenset({COMPRESS}))


DEFAULTS = RunSettings()


def spec(f: Field) -> Spec:
    """The :class:`Spec` of a :class:`RunSettings` field."""
    return f.metadata["spec"]


def settings_fields(command: str) -> list[Field]:
    """The settings that ``command`` ("run" or "compress") takes, in declaration order."""
    return [f for f in fields(RunSettings) if command in spec(f).commands]


def toml_key(f: Field) -> str:
    """The setting's key in an experiment file (dotted when it sits in a table)."""
    return spec(f).toml or f.name


def flag(f: Field) -> str:
    """The setting's ``wsbench compress`` flag."""
    return spec(f).flag or "--" + f.name.replace("_", "-")


def toml_keys() -> dict[str, set[str]]:
    """Top-level keys of the settings ("" -> keys; "table" -> the keys inside that table)."""
    out: dict[str, set[str]] = {"": set()}
    for f in settings_fields(RUN):
        table, _, key = toml_key(f).rpartition(".")
        out[""].add(table or key)
        if table:
            out.setdefault(table, set()).add(key)
    return out


def from_toml(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Checked values of the settings an experiment file gives (absent ones are left out)."""
    tables, checked = toml_keys(), set()
    out: dict[str, Any] = {}
    for f in settings_fields(RUN):
        table, _, key = toml_key(f).rpartition(".")
        if table and table not in checked:
            checked.add(table)
            validate.table(data.get(table, {}), f"{source}: {table}", tables[table])
        section = data.get(table, {}) if table else data
        if key in section:
            out[f.name] = spec(f).check_value(section[key], f"{source}: {toml_key(f)}")
    return out


def toml_default(f: Field) -> Any:
    """What an experiment file that leaves the key out gets (or REQUIRED / DERIVED)."""
    default = spec(f).toml_default
    return f.default if default is SAME else default


def add_arguments(parser: argparse.ArgumentParser, command: str,
                  names: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()) -> None:
    """Add the flags of ``command``'s settings: ``names`` in that order (default: all of them
    but ``skip``), so that a command can place them among its own flags in ``--help``."""
    by_name = {f.name: f for f in settings_fields(command)}
    for name in names if names is not None else [n for n in by_name if n not in skip]:
        f = by_name[name]
        s, option = spec(f), flag(f)
        if s.kind is bool:
            parser.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=f.default, help=s.help)
            continue
        convert = validate.arg(lambda v, where, s=s: s.check_value(v, where), option, s.kind)
        parser.add_argument(option, dest=f.name, type=convert, default=f.default, help=s.help,
                            choices=s.choices or None)


def from_args(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The values of ``command``'s settings from parsed flags (already checked by argparse)."""
    return {f.name: getattr(args, f.name) for f in settings_fields(command)}
