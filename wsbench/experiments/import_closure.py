"""The static import closure of Python modules: which source files a piece of code runs through,
what they hash to, and which installed libraries they import (for :mod:`code_identity`).

Imports are followed with ``ast`` (those inside functions too, relative ones made absolute)
through the first-party packages named. A module already imported is hashed once per import
(pinned to its module spec), so a file edited while a long run goes on does not make the run's
later records claim code it never ran; a module imported again (a new spec) is read again.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

# numpy's SIMD targets, highest first, among those its sorts dispatch to (1.26: AVX512_SKX; 2.x
# also AVX2 and ARM's): the first one enabled names the kernels a run's sorts used
SIMD_LEVELS = ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "AVX2", "SVE", "ASIMD")


def closure(roots: Iterable[str], first_party: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """Module name -> source hash over the import closure of ``roots`` within ``first_party``
    packages (and the roots' own), and the top-level names of the other packages it imports."""
    roots = tuple(dict.fromkeys(roots))
    inside = set(first_party) | {r.partition(".")[0] for r in roots}
    modules: dict[str, str] = {}
    third_party: set[str] = set()
    todo = [m for r in roots for m in _with_parents(r)]
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
            if top in inside:
                todo.extend(_with_parents(dotted))
            elif top and top not in sys.stdlib_module_names and not top.startswith("_"):
                third_party.add(top)
    return modules, third_party


def _with_parents(dotted: str) -> list[str]:
    """``a.b.c`` and the packages whose ``__init__`` importing it runs: a, a.b, a.b.c."""
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@lru_cache(maxsize=1)
def platform() -> dict[str, str]:
    """The machine's architecture and the SIMD level numpy dispatches to (it cannot change
    within a process)."""
    import platform as _platform

    try:
        from numpy._core import _multiarray_umath as umath  # numpy 2
    except ImportError:
        from numpy.core import _multiarray_umath as umath  # numpy 1
    # a level counts where the CPU has it (and NPY_DISABLE_CPU_FEATURES left it on) and numpy's
    # build has kernels for it: numpy 1.26 detects AVX512_SPR but dispatches to AVX512_ICL at most
    built = set(umath.__cpu_baseline__) | set(umath.__cpu_dispatch__)
    level = next((f for f in SIMD_LEVELS if umath.__cpu_features__.get(f) and f in built),
                 "baseline")
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


def versions(tops: Iterable[str]) -> dict[str, str]:
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
