"""User-facing errors: the CLI prints these as one line and exits non-zero."""

from __future__ import annotations

from collections.abc import Iterator
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


@contextmanager
def reraised(error: type[WsbenchError], message: str,
             *kinds: type[BaseException]) -> Iterator[None]:
    """Turn a library's ``kinds`` of exception (raised while reading one user file) into one
    user-facing ``error`` line, so a malformed input never ends as a traceback or exit 1."""
    try:
        yield
    except kinds as exc:
        raise error(f"{message} ({type(exc).__name__}: {exc})") from None
