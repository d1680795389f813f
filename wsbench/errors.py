"""User-facing errors: the CLI prints these as one line and exits non-zero."""

from __future__ import annotations


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
