"""How long memories live: the TTL rules, as pure functions of a clock value.

Hard memories are permanent. Soft memories expire ``SOFT_TTL_SECONDS`` after the user
was last seen (or after the memory last changed, if that is later), so every
interaction extends all of a user's soft memories at once.
"""

from __future__ import annotations

from sel.memory.records import Memory

SOFT_TTL_SECONDS = 14 * 24 * 3600.0


def expires_at(memory: Memory, last_seen: float | None) -> float | None:
    """When ``memory`` expires, or None if it never does."""
    if memory.hard:
        return None
    return max(memory.updated_at, last_seen or 0.0) + SOFT_TTL_SECONDS


def is_expired(memory: Memory, last_seen: float | None, now: float) -> bool:
    """Whether ``memory`` has expired at time ``now``."""
    deadline = expires_at(memory, last_seen)
    return deadline is not None and now >= deadline
