"""A person's data export: everything stored about them, as plain JSON data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sel.memory.retention import expires_at, is_expired

if TYPE_CHECKING:
    from sel.memory.store import MemoryStore


def export_user(store: MemoryStore, user_id: str, *, now: float | None = None) -> dict[str, Any]:
    """Everything ``store`` holds about ``user_id`` (vectors are derived from the texts and omitted).

    Memories come oldest first, each with when it expires (None: permanent) and whether it already
    has (expired soft memories are still listed until the pruner deletes them). Blocks: call it in a thread.
    """
    now = store.clock() if now is None else now
    records = store.user_records(user_id)
    last_seen = records.last_seen
    return {
        "user_id": user_id,
        "consent": records.consented_at is not None,
        "consented_at": records.consented_at,
        "last_seen": last_seen,
        "memories": [
            {**m.to_json(), "expires_at": expires_at(m, last_seen), "expired": is_expired(m, last_seen, now)}
            for m in records.memories
        ],
        "profiles": records.profiles,
    }
