"""``wsbench plugins``: every registered plugin with its kind, provider and description."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list the registered plugins",
                       description="List every plugin: kind, name, providing distribution, description.")
    p.add_argument("--kind", help="only this kind (task, quantizer, space, optimizer, merge, reporter, executor)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from wsbench import plugins
    from wsbench.errors import PluginError

    reg = plugins.registry()
    if args.kind and args.kind not in reg:
        raise PluginError(f"unknown plugin kind {args.kind!r}; kinds: {', '.join(reg)}")
    rows = [(i.kind, i.name, i.provider, i.description)
            for kind, by_name in reg.items() if not args.kind or kind == args.kind
            for i in sorted(by_name.values(), key=lambda i: i.name)]
    if args.json:
        print(json.dumps([dict(zip(("kind", "name", "provider", "description"), r)) for r in rows],
                         indent=2))
        return 0
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("kind", "name", "provider"))]
    print(f"{'kind':<{widths[0]}}  {'name':<{widths[1]}}  {'provider':<{widths[2]}}  description")
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return 0
