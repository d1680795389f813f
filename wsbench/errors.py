"""User-facing errors: the CLI prints these as one line and exits non-zero."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class WsbenchError(Exception):
    """Base class for every error that is the user's input, not a bug."""


class PluginError(WsbenchError):
    """A plugin is unknown, collides with another, or failed while loading."""


class ConfigError(WsbenchError):
    """A configuration value or file is malformed."""


class ModelError(WsbenchError):
    """A model cannot be compressed (no shareable weights, NaN/inf, unreadable)."""


class FormatError(WsbenchError):
    """A compressed file is missing, truncated, corrupted or of another version."""


def suggest(name: str, valid: Iterable[str]) -> str:
    """'; did you mean X?' for the closest valid names, or '' when none is close: appended to
    an unknown name's error where it is raised, so every front end shows it."""
    close = difflib.get_close_matches(name, list(valid), n=2, cutoff=0.6) if isinstance(name, str) else []
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


@contextmanager
def reraised(error: type[WsbenchError], message: str,
             *kinds: type[BaseException]) -> Iterator[None]:
    """Turn a library's ``kinds`` of exception (raised while reading one user file) into one
    user-facing ``error`` line, so a malformed input never ends as a traceback or exit 1."""
    try:
        yield
    except kinds as exc:
        raise error(f"{message} ({type(exc).__name__}: {exc})") from None
