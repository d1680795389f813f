"""The ``wsbench`` command line. Subcommands live in ``wsbench.commands.<name>``.

Only argparse is imported up front so that ``wsbench --help`` stays fast; every error that is
the user's input ends as one ``wsbench: error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("compress", "decompress", "plugins", "train", "run", "report", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsbench",
        description="Retraining-free weight-sharing compression of trained networks: "
                    "search, compare and save compressed models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    from wsbench import __version__

    parser.add_argument("--version", action="version", version=f"wsbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"wsbench.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The console script (``argv`` None: the process ends after it) or a call in-process."""
    try:
        return _main(argv)
    finally:
        if argv is None:
            quiet_interrupt_at_exit()


def quiet_interrupt_at_exit() -> None:
    """From here on the process only exits: a Ctrl-C while the libraries' exit callbacks run
    (tqdm's monitor thread, a pool or a cluster being joined) ends it at once, status 130,
    instead of Python's "Exception ignored in atexit callback ... KeyboardInterrupt"."""
    import os
    import signal
    import threading

    def stop(signum: int, frame: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)

    # only where Ctrl-C raises KeyboardInterrupt: not in a thread, nor where SIGINT is ignored
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        signal.signal(signal.SIGINT, stop)


def _main(argv: list[str] | None) -> int:
    from wsbench.errors import WsbenchError

    parser = build_parser()
    try:  # flags are checked while parsing (wsbench.validate): the same one line as the rest
        args = parser.parse_args(argv)
    except WsbenchError as exc:
        print(f"wsbench: error: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WsbenchError as exc:
        if args.debug:
            raise
        print(f"wsbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wsbench: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a full or read-only disk, a path that cannot be written: one line
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"wsbench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a plugin or library failure: still one line unless --debug
        if args.debug:
            raise
        print(f"wsbench: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
