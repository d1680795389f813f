"""The plugin registry: entry-point group ``wsbench``, loaded lazily on first use.

Built-in plugins (package ``wsbench_plugins``) are found through the same entry points as
third-party ones. Two providers of one (kind, name) is an error naming both, never a rename.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import Any, Callable

import pluggy

from wsbench import hookspecs
from wsbench.errors import PluginError, WsbenchError, suggest

ENTRY_POINT_GROUP = "wsbench"


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    provider: str  # distribution name, or the module for in-process plugins
    module: str = ""  # the module that registered it (its hook implementation's)


pm = pluggy.PluginManager("wsbench")
pm.add_hookspecs(hookspecs)
_state: dict[str, Any] = {"loaded": False, "registry": None}


def _load_entry_points() -> None:
    """pluggy loads the group (it skips names already registered or blocked), one entry point
    at a time so that a broken one is named; it also keeps which distribution gave each."""
    if _state["loaded"]:
        return
    _state["loaded"] = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not hide the others
            dist = ep.dist.name if ep.dist else "?"
            raise PluginError(f"plugin entry point {ep.name!r} from {dist} failed to load: {exc}") from exc


def _provider_of(plugin: object) -> str:
    """The distribution that provides ``plugin``, or its registered name (in-process plugins)."""
    for loaded, dist in pm.list_plugin_distinfo():
        if loaded is plugin:
            return dist.project_name
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin object in-process (tests, notebooks); undo with :func:`unregister`."""
    _load_entry_points()
    pm.register(plugin, name=name)
    _state["registry"] = None


def unregister(plugin: object | None = None, name: str | None = None) -> None:
    pm.unregister(plugin=plugin, name=name)
    _state["registry"] = None


def registry() -> dict[str, dict[str, PluginInfo]]:
    """Every registered plugin, by kind then name. Built once, rebuilt after (un)register."""
    _load_entry_points()
    if _state["registry"] is not None:
        return _state["registry"]
    result: dict[str, dict[str, PluginInfo]] = {kind: {} for kind in hookspecs.KINDS}
    for kind, hook_name in hookspecs.KINDS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            provider = _provider_of(impl.plugin)
            module = getattr(impl.function, "__module__", "") or ""

            def _register(name: str, factory: Callable[..., Any], description: str = "",
                          _kind: str = kind, _provider: str = provider, _module: str = module) -> None:
                existing = result[_kind].get(name)
                if existing is not None:
                    raise PluginError(
                        f"{_kind} {name!r} is provided twice: by {existing.provider} and by {_provider}"
                    )
                result[_kind][name] = PluginInfo(_kind, name, factory, description.strip(), _provider,
                                                 _module)

            try:
                impl.function(register=_register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {provider} failed while registering {kind}s: {exc}") from exc
    _state["registry"] = result
    return result


def get(kind: str, name: str) -> PluginInfo:
    """Look a plugin up; an unknown name's error lists the valid ones and the closest of them
    (every front end gets the "did you mean" from here)."""
    by_name = registry().get(kind)
    if by_name is None:
        raise PluginError(f"unknown plugin kind {kind!r}; kinds: {', '.join(hookspecs.KINDS)}"
                          + suggest(kind, hookspecs.KINDS))
    if name not in by_name:
        valid = ", ".join(sorted(by_name)) or "(none registered)"
        raise PluginError(f"unknown {kind} {name!r}; valid {kind}s: {valid}" + suggest(name, by_name))
    return by_name[name]


def create(kind: str, name: str, **options: Any) -> Any:
    """Build a plugin object once its options pass :func:`wsbench.options.check` (declared,
    typed, in range); a plugin that raises is reported as a PluginError naming it."""
    from wsbench import options as plugin_options

    info = get(kind, name)
    plugin_options.check(kind, name, options)
    try:
        obj = info.factory(**options)
    except TypeError as exc:
        raise PluginError(f"bad options for {kind} {name!r}: {exc}") from exc
    except WsbenchError:
        raise
    except Exception as exc:
        raise PluginError(f"{kind} {name!r} ({info.provider}) failed: {exc}") from exc
    if getattr(obj, "name", None) is None:
        try:
            obj.name = name
        except AttributeError:
            pass
    return obj


def names(kind: str) -> list[str]:
    return sorted(registry()[kind])
