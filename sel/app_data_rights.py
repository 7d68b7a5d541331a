"""Data rights for the App, over the memory store: consent, where memories may come back, export,
the memory map, and finding and deleting one memory. Everything blocking runs in a thread."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sel.errors import SelError

if TYPE_CHECKING:
    from sel.memory.records import Memory
    from sel.memory.store import MemoryStore


class AppDataRights:
    """The App's data rights: a part of :class:`~sel.app_door.App`, which holds the memory store (or None)."""

    _memory: MemoryStore | None

    async def has_consent(self, user_id: str) -> bool:
        """Whether the person opted in to memory (False when memory is off)."""
        if self._memory is None:
            return False
        return await asyncio.to_thread(self._memory.has_consent, user_id)

    async def set_consent(self, user_id: str, on: bool) -> None:
        """Record an opt-in or a withdrawal; withdrawal stops storing at once."""
        await asyncio.to_thread(self._require_memory().set_consent, user_id, on)

    async def set_memory_scope(self, user_id: str, preference: str) -> bool:
        """Where the person's future memories may come back: "here" (where said), "anywhere" or "dm";
        False (nothing kept) when they have not opted in."""
        return await asyncio.to_thread(self._require_memory().set_scope_preference, user_id, preference)

    async def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the person, as plain JSON data."""
        from sel.memory.export import export_user

        return await asyncio.to_thread(export_user, self._require_memory(), user_id)

    async def memory_map(self, user_id: str) -> str | None:
        """The person's memory map as SVG, or None when they have not opted in."""
        from sel.memory.svg import memory_map

        store = self._require_memory()
        if not await asyncio.to_thread(store.has_consent, user_id):
            return None
        return await asyncio.to_thread(memory_map, store, user_id)

    async def memory_matches(self, user_id: str, text: str, *, k: int = 10) -> list[Memory]:
        """The person's memories that match ``text`` (e.g. "my cat"), best first: the ones they may pick to forget."""
        matches = await asyncio.to_thread(self._require_memory().find, user_id, text, k=k)
        return [match.memory for match in matches]

    async def forget_memory(self, user_id: str, memory_id: str) -> Memory:
        """Erase one of the person's memories, leaving no trace; InputError when they have none with that id."""
        return await asyncio.to_thread(self._require_memory().delete, user_id, memory_id)

    def _require_memory(self) -> MemoryStore:
        if self._memory is None:
            raise MemoryOffError("memory is turned off on this SEL")
        return self._memory


class MemoryOffError(SelError):
    """A data-rights request on an SEL that runs without a memory store."""
