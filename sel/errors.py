"""User-facing errors: each message says what is wrong and how to fix it.

The CLI catches :class:`SelError` at the edge and prints its message as one line;
anything else is a programming error and keeps its traceback.
"""

from __future__ import annotations

import re

# Every character str.splitlines() breaks on.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


class SelError(Exception):
    """An error a user can cause and fix. ``str(err)`` is the whole one-line message."""

    exit_code = 1

    def __str__(self) -> str:
        # Messages quote what the person gave (a setting's value, a file name), which may hold line
        # breaks: they are shown escaped, so the message stays one line and still shows the value.
        return _LINE_BREAK.sub(lambda m: repr(m.group())[1:-1], super().__str__())


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


class StorageError(SelError):
    """SEL's data folder refused a write (full, read-only, failing disk); what was stored before is intact."""

    exit_code = 4


class ServerUnavailableError(SelError):
    """A model server did not give a usable answer. ``kind`` says what happened, for a kind chat message:

    ``connect`` (nothing listens, or the name does not resolve), ``timeout`` (no answer in time),
    ``busy`` (429/503 after the retries), ``auth`` (401/403: the API key), ``model`` (no such model
    there), ``http`` (another error status), ``broken`` (the answer stopped half-way).
    """

    exit_code = 2

    def __init__(self, message: str, *, kind: str, url: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.url = url


UNEXPECTED = "something went wrong on SEL's side; the owner can find the details in SEL's log"


def render_error(err: BaseException) -> str:
    """The one line a person sees for ``err``, at every edge (CLI, terminal, Discord).

    A :class:`SelError` is its own message (undecodable bytes shown as U+FFFD); anything else is
    a programming error, whose details belong in the log, not in front of the person.
    """
    if isinstance(err, SelError):
        from sel.undecodable import replace_undecodable

        return replace_undecodable(str(err))
    return UNEXPECTED
