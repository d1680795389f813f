"""Which code a trial ran through, so that a record made by other code is never reused silently.

A trial's result depends on the trial pipeline and on the modules of its five plugins, and on
everything they import. Its *code identity* is that import closure, followed statically (every
``import``, also those inside functions) through first-party packages only (``wsbench``,
``wsbench_plugins`` and each plugin's own top-level package), each module's source hashed; and
the installed version of every third-party distribution those modules import. The fingerprint
hashes both. A record keeps the per-module hashes too, so a stale record can say what changed.

Keying by content, not by git commit: an edited, uncommitted tree gets its own fingerprint, and
a change to the report or to another optimizer's module leaves a trial's records valid.

A module already imported is hashed once per import (pinned to its module spec), so a file
edited while a long run goes on does not make the run's later records claim code it never ran;
a module imported again (a new spec) is read again. Not covered: the versions of libraries that
first-party code does not import itself (scipy under pymoo, say), and plugins without a source
file (defined in a notebook).

The identity also names the SIMD level numpy dispatches to (``platform``): numpy 1.26 sorts with
AVX-512 kernels where the CPU has them, and those order ties differently, so NSGA-II, TPE and
CMA-ES searched other decisions on an AVX-512 machine than on an AVX2 one (RESULTS.md section
4). A record made on the other kind of CPU is run again.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from wsbench.errors import WsbenchError
from wsbench.files.cache import content_key

if TYPE_CHECKING:
    from wsbench.experiments.experiment import PluginSpec, Trial

# the modules every trial and exact front runs through, whatever its plugins
PIPELINE = ("wsbench.experiments.trial", "wsbench.experiments.work")
FIRST_PARTY = ("wsbench", "wsbench_plugins")
CODE_FORMAT = 2  # raise when what goes into a fingerprint changes meaning (2: platform)
# numpy's SIMD targets, highest first, among those its sorts dispatch to (1.26: AVX512_SKX; 2.x
# also AVX2 and ARM's): the first one enabled names the kernels a run's sorts used
SIMD_LEVELS = ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "AVX2", "SVE", "ASIMD")


@dataclass(frozen=True)
class CodeIdentity:
    """The code a record was made by: module -> source hash, distribution -> version, and the
    numerics platform that changes what the same code computes."""

    modules: Mapping[str, str] = field(default_factory=dict)
    libraries: Mapping[str, str] = field(default_factory=dict)
    platform: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return content_key(format=CODE_FORMAT, modules=dict(self.modules),
                           libraries=dict(self.libraries), platform=dict(self.platform))

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "modules": dict(sorted(self.modules.items())),
                "libraries": dict(sorted(self.libraries.items())),
                "platform": dict(sorted(self.platform.items()))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CodeIdentity":
        return cls(dict(data.get("modules", {})), dict(data.get("libraries", {})),
                   dict(data.get("platform", {})))

    def changes_from(self, old: "CodeIdentity") -> list[str]:
        """What differs from ``old``, as short phrases (``plugins.optimizers changed``)."""
        out = []
        for kind, new_map, old_map in (("module", self.modules, old.modules),
                                       ("library", self.libraries, old.libraries),
                                       ("library", self.platform, old.platform)):
            for name in sorted(set(new_map) | set(old_map)):
                a, b = old_map.get(name), new_map.get(name)
                if a == b:
                    continue
                if a is None:
                    out.append(f"{name} now used")
                elif b is None:
                    out.append(f"{name} no longer used")
                elif kind == "library":
                    out.append(f"{name} {a} -> {b}")
                else:
                    out.append(f"{name} changed")
        return out


def stale_reason(recorded: Mapping[str, Any] | None, current: CodeIdentity) -> str | None:
    """Why a record whose ``code`` is ``recorded`` was not made by ``current``; None if it was."""
    if not recorded:
        return "made before records kept their code"
    if recorded.get("fingerprint") == current.fingerprint:
        return None
    changes = current.changes_from(CodeIdentity.from_dict(recorded))
    if not changes:
        return "made by other code"
    more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
    return "made by other code: " + ", ".join(changes[:3]) + more


# -- the identity of a trial and of an exact front ----------------------------------------------

def trial_code(trial: "Trial") -> CodeIdentity:
    """The code a trial runs through: the pipeline and its task, space, quantizer, optimizer and
    merge plugins."""
    specs = (trial.task, trial.space, trial.quantizer, trial.optimizer, trial.merge)
    return code_of(PIPELINE + tuple(m for s in specs for m in plugin_modules(s.kind, s.name)))


def exact_code(trial: "Trial") -> CodeIdentity:
    """The code an exact front runs through: the pipeline, the trial's task, space and quantizer,
    and the exhaustive optimizer that enumerates the space."""
    specs = [(s.kind, s.name) for s in (trial.task, trial.space, trial.quantizer)]
    specs.append(("optimizer", "exhaustive"))
    return code_of(PIPELINE + tuple(m for k, n in specs for m in plugin_modules(k, n)))


def plugin_modules(kind: str, name: str) -> tuple[str, ...]:
    """The module that defines a plugin's factory (a class, a function or a partial of one) and
    the one that registered it (where a partial's options or a lambda's defaults are written)."""
    from wsbench import plugins

    info = plugins.get(kind, name)
    target = getattr(info.factory, "func", info.factory)  # functools.partial
    defined = getattr(target, "__module__", None) or type(target).__module__
    return tuple(m for m in dict.fromkeys((defined, info.module)) if m)


def code_of(roots: Iterable[str]) -> CodeIdentity:
    """The identity of the import closure of ``roots`` (module names)."""
    roots = tuple(dict.fromkeys(roots))
    first_party = set(FIRST_PARTY) | {r.partition(".")[0] for r in roots}
    modules: dict[str, str] = {}
    third_party: set[str] = set()
    todo = [".".join(r.split(".")[:i]) for r in roots for i in range(1, r.count(".") + 2)]
    while todo:
        name = todo.pop()
        if name in modules:
            continue
        path = _source_path(name)
        if path is None:  # a name imported from a module (a function, a class), or no source
            continue
        digest, imports = _digest(name, path)
        modules[name] = digest
        for dotted in imports:
            top = dotted.partition(".")[0]
            if top in first_party:
                parts = dotted.split(".")  # a.b.c runs the __init__ of a and a.b too
                todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            elif top and top not in sys.stdlib_module_names and not top.startswith("_"):
                third_party.add(top)
    return CodeIdentity(modules, _versions(third_party), platform())


@lru_cache(maxsize=1)
def platform() -> dict[str, str]:
    """The machine's architecture and the SIMD level numpy dispatches to (it cannot change
    within a process)."""
    import platform as _platform

    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features  # numpy 2
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__ as features  # numpy 1
    level = next((f for f in SIMD_LEVELS if features.get(f)), "baseline")
    return {"machine": _platform.machine(), "numpy_simd": level}


def _source_path(name: str) -> Path | None:
    """The ``.py`` file of a module (also ``__main__``, a script); None for a name that is no
    module, or one without source."""
    loaded = getattr(sys.modules.get(name), "__file__", None)
    if isinstance(loaded, str) and loaded.endswith(".py"):
        return Path(loaded)
    try:
        spec = importlib.util.find_spec(name)
    except Exception:  # noqa: BLE001 - a parent that fails to import: no module to hash here
        return None
    origin = getattr(spec, "origin", None) if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


# module name -> (the spec it was imported with, its hash, its imports): the code in memory
_PINNED: dict[str, tuple[Any, str, tuple[str, ...]]] = {}


def _digest(name: str, path: Path) -> tuple[str, tuple[str, ...]]:
    """A module's hash and imports: as imported, for a module in memory (read once per import),
    else as the file is now."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if spec is not None and getattr(module, "__file__", None) == str(path):
        pinned = _PINNED.get(name)
        if pinned is not None and pinned[0] is spec:
            return pinned[1], pinned[2]
        digest, imports = _read(name, str(path), *_stamp(path))
        _PINNED[name] = (spec, digest, imports)
        return digest, imports
    return _read(name, str(path), *_stamp(path))


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=4096)
def _read(name: str, path: str, mtime_ns: int, size: int) -> tuple[str, tuple[str, ...]]:
    """A source file's hash and the absolute names it may import (cached by the file's stamp, so
    a file edited in this process is read again)."""
    data = Path(path).read_bytes().replace(b"\r\n", b"\n")  # a Windows checkout: same code
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    return hashlib.sha256(data).hexdigest()[:16], tuple(_imports(data, path, package))


def _imports(source: bytes, path: str, package: str) -> list[str]:
    """``import a.b`` gives a.b; ``from a import b`` gives a and a.b (a.b may be a name, not a
    module: the caller passes over names without a source file); relative forms made absolute."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            if base is None:
                continue
            if base:
                out.append(base)
            out.extend(f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*")
    return out


def _absolute(module: str, level: int, package: str) -> str | None:
    if level == 0:
        return module
    base = package.split(".") if package else []
    if level - 1 > len(base):
        return None
    head = base[:len(base) - (level - 1)]
    return ".".join([*head, module] if module else head)


def _versions(tops: Iterable[str]) -> dict[str, str]:
    """Installed distribution -> version for top-level import names (those without one: left out)."""
    by_top = _distributions()
    out: dict[str, str] = {}
    for top in tops:
        for dist in by_top.get(top, ()):
            try:  # a local build tag (torch's +cpu, +cu128) is the same code
                out[dist] = importlib.metadata.version(dist).split("+")[0]
            except importlib.metadata.PackageNotFoundError:
                continue
    return out


@lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def stale_records(trials: Iterable["Trial"], records: Mapping[str, Any]) -> dict[str, str]:
    """Trial key -> why its finished record (in ``records``, by key) was made by other code."""
    memo: dict[tuple, CodeIdentity | None] = {}
    out: dict[str, str] = {}
    for t in trials:
        rec = records.get(t.key)
        if rec is None or not rec.ok:
            continue
        names = tuple((s.kind, s.name) for s in (t.task, t.space, t.quantizer, t.optimizer, t.merge))
        if names not in memo:
            try:
                memo[names] = trial_code(t)
            except WsbenchError as exc:  # a plugin not installed here (a report of another's folder)
                memo[names] = None
                out[t.key] = f"its code cannot be checked here ({exc})"
                continue
        if memo[names] is None:
            out[t.key] = "its code cannot be checked here (a plugin is missing)"
            continue
        reason = stale_reason(rec.code, memo[names])
        if reason:
            out[t.key] = reason
    return out


def summarise(reasons: Iterable[str], most: int = 3) -> str:
    """``n: reason`` for the commonest reasons, for one line of a run's or a check's output."""
    from collections import Counter

    counts = Counter(reasons).most_common()
    text = "; ".join(f"{n} {reason}" for reason, n in counts[:most])
    return text + (f"; {len(counts) - most} other reason(s)" if len(counts) > most else "")
