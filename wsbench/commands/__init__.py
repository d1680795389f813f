"""One module per subcommand, each with ``add_parser(subparsers)``."""

from __future__ import annotations

import json


def parse_options(pairs: list[str] | None) -> dict[str, dict[str, object]]:
    """``["optimizer.pop_size=50", "merge.tolerance=0.01"]`` -> {kind: {key: value}}.

    Values are read as JSON when they parse (numbers, true/false, lists), else kept as strings.
    """
    from wsbench.errors import ConfigError

    out: dict[str, dict[str, object]] = {}
    for pair in pairs or []:
        target, sep, raw = pair.partition("=")
        kind, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise ConfigError(f"--set expects KIND.KEY=VALUE (e.g. optimizer.pop_size=50), got {pair!r}")
        try:
            value: object = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(kind, {})[key] = value
    return out
