"""Which code a trial ran through, so that a record made by other code is never reused silently.

A trial's result depends on the trial pipeline and on the modules of its five plugins, and on
everything they import. Its *code identity* is that import closure, followed statically (every
``import``, also those inside functions) through first-party packages only (``wsbench``,
``wsbench_plugins`` and each plugin's own top-level package), each module's source hashed; and
the installed version of every third-party distribution those modules import. The fingerprint
hashes both. A record keeps the per-module hashes too, so a stale record can say what changed.

Keying by content, not by git commit: an edited, uncommitted tree gets its own fingerprint, and
a change to the report or to another optimizer's module leaves a trial's records valid.

The closure is :mod:`wsbench.experiments.import_closure`'s (a module in memory is hashed as it
was imported, not as it is edited during a run). Not covered: the versions of libraries that
first-party code does not import itself (scipy under pymoo, say), and plugins without a source
file (defined in a notebook).

The identity also names the SIMD level numpy dispatches to (``platform``): numpy 1.26 sorts with
AVX-512 kernels where the CPU has them, and those order ties differently, so NSGA-II, TPE and
CMA-ES searched other decisions on an AVX-512 machine than on an AVX2 one (RESULTS.md section
4). A record made on the other kind of CPU is run again.

The identity's own modules (this one and :mod:`~wsbench.experiments.import_closure`) are recorded
but not compared: they decide what a record is compared on, not what a trial computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from wsbench.errors import WsbenchError
from wsbench.experiments.import_closure import closure, platform, versions
from wsbench.files.cache import content_key

if TYPE_CHECKING:
    from wsbench.experiments.experiment import Trial

# the modules every trial and exact front runs through, whatever its plugins
PIPELINE = ("wsbench.experiments.trial", "wsbench.experiments.work")
FIRST_PARTY = ("wsbench", "wsbench_plugins")
# the identity's own machinery (how code is hashed, how the platform is read) decides what records
# are compared on, not what a trial computes: a fix to it leaves the records it judges valid
MACHINERY = ("wsbench.experiments.code_identity", "wsbench.experiments.import_closure")
CODE_FORMAT = 2  # raise when what goes into a fingerprint changes meaning (2: platform)


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
    old, now = _compared(CodeIdentity.from_dict(recorded)), _compared(current)
    if old.fingerprint == now.fingerprint:
        return None
    changes = now.changes_from(old)
    if not changes:
        return "made by other code"
    more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
    return "made by other code: " + ", ".join(changes[:3]) + more


def _compared(code: CodeIdentity) -> CodeIdentity:
    """The identity without :data:`MACHINERY`'s modules."""
    return CodeIdentity({m: h for m, h in code.modules.items() if m not in MACHINERY},
                        code.libraries, code.platform)


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
    modules, third_party = closure(roots, FIRST_PARTY)
    return CodeIdentity(modules, versions(third_party), platform())


def stale_records(trials: Iterable["Trial"], records: Mapping[str, Any]) -> dict[str, str]:
    """Trial key -> why its finished record (in ``records``, by key) was made by other code."""
    memo: dict[tuple, CodeIdentity | str] = {}  # plugin names -> identity, or why there is none
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
                memo[names] = f"its code cannot be checked here ({exc})"
        current = memo[names]
        reason = current if isinstance(current, str) else stale_reason(rec.code, current)
        if reason:
            out[t.key] = reason
    return out


def summarise(reasons: Iterable[str], most: int = 3) -> str:
    """``n: reason`` for the commonest reasons, for one line of a run's or a check's output."""
    from collections import Counter

    counts = Counter(reasons).most_common()
    text = "; ".join(f"{n} {reason}" for reason, n in counts[:most])
    return text + (f"; {len(counts) - most} other reason(s)" if len(counts) > most else "")
