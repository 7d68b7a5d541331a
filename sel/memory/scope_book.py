"""Where a person's memories may come back, kept in an open store: their preference for new memories,
and widening or narrowing what they told SEL last.

The rules themselves are in sel.memory.scopes; this module keeps the records. The preference is
a profile (kind "memory_scope"), so it is exported and forgotten with the rest of the person's data
and kept only with consent.
"""

from __future__ import annotations

from collections.abc import Iterable

from sel.memory.core import StoreCore
from sel.memory.profiles import get_profile, put_profile
from sel.memory.records import Memory
from sel.memory.scopes import DEFAULT_PREFERENCE, PREFERENCES, visible
from sel.memory.state import put_event

PREFERENCE_PROFILE = "memory_scope"


def preference(core: StoreCore, user_id: str) -> str:
    """The person's preference for new memories ("here", "anywhere" or "dm"); "here" when they set none."""
    stored = get_profile(core, user_id, PREFERENCE_PROFILE) or {}
    chosen = stored.get("preference")
    return chosen if isinstance(chosen, str) and chosen in PREFERENCES else DEFAULT_PREFERENCE


def set_preference(core: StoreCore, user_id: str, chosen: str) -> bool:
    """Keep ``chosen`` ("here", "anywhere" or "dm") for the person's future memories; False without consent."""
    if chosen not in PREFERENCES:
        raise ValueError(f"unknown scope preference {chosen!r}")
    return put_profile(core, user_id, PREFERENCE_PROFILE, {"preference": chosen})


def last_told(core: StoreCore, user_id: str, where: str | None) -> list[Memory]:
    """The memories the person's latest message that stored anything stored or changed (the newest ``updated_at``),
    among those that may come back at ``where``: "keep that between us" is about what they said there."""
    with core.lock:
        memories = [m for m in core.state.user_memories(user_id) if visible(m.scope, where)]
        if not memories:
            return []
        newest = max(m.updated_at for m in memories)
        return [m for m in memories if m.updated_at == newest]


def rescope(core: StoreCore, user_id: str, memory_ids: Iterable[str], scope: str) -> list[Memory]:
    """Give the person's memories ``memory_ids`` the ``scope``; return those that changed (durable on return).

    Their ``updated_at`` stays, so a second "only in DMs" still finds the same memories as the last told.
    Nothing changes without consent, and another person's memory is never touched.
    """
    with core.lock:
        core.check_open()
        if user_id not in core.state.consent:
            return []
        changed = []
        for memory_id in memory_ids:
            memory = core.state.memories.get(memory_id)
            if memory is not None and memory.user_id == user_id and memory.scope != scope:
                changed.append(memory.revised(scope=scope))
        if changed:
            core.journal.append(put_event(m) for m in changed)
            for memory in changed:
                core.state.put(memory)
            core.changed(len(changed))
        return changed
