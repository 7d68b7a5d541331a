"""Who has opted in: reading and recording consent in an open store.

The rules for reading consent out of a message are in sel.memory.consent; this module keeps
the record. Consent is durable when :func:`set_consent` returns, and writers re-check it under
the lock, so a withdrawal stops storing at once.
"""

from __future__ import annotations

import logging

from sel.errors import ConsentError
from sel.memory.core import StoreCore, check_user_id
from sel.memory.state import consent_event

log = logging.getLogger(__name__)


def has_consent(core: StoreCore, user_id: str) -> bool:
    """Whether the user has opted in to being remembered."""
    with core.lock:
        return user_id in core.state.consent


def set_consent(core: StoreCore, user_id: str, on: bool, now: float) -> None:
    """Record an opt-in or a withdrawal (durable when this returns)."""
    check_user_id(user_id)
    with core.lock:
        core.check_open()
        if (user_id in core.state.consent) == on:
            return
        core.journal.append([consent_event(user_id, on, now)])
        core.state.set_consent(user_id, on, now)
        log.info("memory consent %s", "given" if on else "withdrawn")


def require_consent(core: StoreCore, user_id: str) -> None:
    """ConsentError unless the user has opted in."""
    if not has_consent(core, user_id):
        raise consent_error(user_id)


def consent_error(user_id: str) -> ConsentError:
    return ConsentError(
        f"user {user_id} has not opted in to memory, so nothing about them can be stored; they can say "
        f'"you can remember stuff about me", or run `sel memory consent {user_id} on`'
    )
