"""User-facing errors: each message says what is wrong and how to fix it.

The CLI catches :class:`SelError` at the edge and prints its message as one line;
anything else is a programming error and keeps its traceback.
"""

from __future__ import annotations


class SelError(Exception):
    """An error a user can cause and fix. ``str(err)`` is the whole one-line message."""

    exit_code = 1


class ConfigError(SelError):
    """A setting in the environment or `.env` is invalid."""

    exit_code = 2


class ModelError(SelError):
    """A model file is missing, unreadable or not the expected format."""

    exit_code = 2


class InputError(SelError):
    """A command-line argument or input file is invalid."""

    exit_code = 2


class ConsentError(SelError):
    """An operation would store data about a user who has not opted in."""

    exit_code = 3
