"""A person's data export: everything stored about them, as plain JSON data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sel.memory.store import MemoryStore


def export_user(store: MemoryStore, user_id: str, *, now: float | None = None) -> dict[str, Any]:
    """Everything ``store`` holds about ``user_id`` (vectors are derived from the texts and omitted)."""
    return store.export(user_id, now=now)
