"""One module per subcommand, each with ``add_parser(subparsers)``."""

from __future__ import annotations


def parse_options(pairs: list[str] | None) -> dict[str, dict[str, object]]:
    """``["optimizer.pop_size=50", "merge.tolerance=0.01"]`` -> {kind: {key: value}}.

    Values are read as TOML values when they parse (numbers, true/false, lists, quoted text),
    else kept as strings, as ``wsbench run --set`` reads them.
    """
    from wsbench.commands.overrides import read_value
    from wsbench.errors import ConfigError

    out: dict[str, dict[str, object]] = {}
    for pair in pairs or []:
        target, sep, raw = pair.partition("=")
        kind, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise ConfigError(f"--set expects KIND.KEY=VALUE (e.g. optimizer.pop_size=50), got {pair!r}")
        out.setdefault(kind, {})[key] = read_value(raw)
    return out
