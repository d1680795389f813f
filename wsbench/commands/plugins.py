"""``wsbench plugins``: every registered plugin with its kind, provider and description, and
with ``--options`` the options each one takes (type, range, default)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list the registered plugins",
                       description="List every plugin: kind, name, providing distribution, description.")
    p.add_argument("--kind", help="only this kind (task, quantizer, space, optimizer, merge, reporter, executor)")
    p.add_argument("--options", action="store_true",
                   help="also list each plugin's options: type, allowed range, default")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from wsbench import options, plugins
    from wsbench.errors import PluginError, suggest

    reg = plugins.registry()
    if args.kind and args.kind not in reg:
        raise PluginError(f"unknown plugin kind {args.kind!r}; kinds: {', '.join(reg)}"
                          + suggest(args.kind, reg))
    infos = [i for kind, by_name in reg.items() if not args.kind or kind == args.kind
             for i in sorted(by_name.values(), key=lambda i: i.name)]
    rows = [(i.kind, i.name, i.provider, i.description) for i in infos]
    described = [_options(options.declared(i.factory)) for i in infos] if args.options else []
    if args.json:
        listing = [dict(zip(("kind", "name", "provider", "description"), r)) for r in rows]
        for entry, opts in zip(listing, described):
            entry["options"] = opts
        print(json.dumps(listing, indent=2))
        return 0
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("kind", "name", "provider"))]
    print(f"{'kind':<{widths[0]}}  {'name':<{widths[1]}}  {'provider':<{widths[2]}}  description")
    for n, r in enumerate(rows):
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
        if described:
            opts = described[n]
            lines = ([f"{k}: {v}" for k, v in opts.items()] or ["(no options)"]) \
                if opts is not None else ["(options not declared: passed on unchecked)"]
            print("\n".join(f"    {line}" for line in lines))
    return 0


def _options(declared: dict | None) -> dict[str, str] | None:
    """Option name -> ``int in [2, 100000] (default 100)``; None when the plugin takes anything."""
    return None if declared is None else {name: o.describe() for name, o in declared.items()}
