"""Every user's style profile: in RAM for the session, on disk only with memory consent.

Profiles are personal data. They are stored through the memory store's profile API, which
refuses without consent, and only after checking consent here as well; ``forget`` drops
the RAM copy (the memory store deletes the stored one). Memory calls block, so they run in
a thread.
"""

from __future__ import annotations

import asyncio
import logging

from sel.brain import style
from sel.brain.memory_port import MemoryPort
from sel.brain.style import StyleProfile

log = logging.getLogger(__name__)


class StyleBook:
    """Style profiles by user id."""

    def __init__(self, memory: MemoryPort | None) -> None:
        self.memory = memory
        self._profiles: dict[str, StyleProfile] = {}
        self._looked_up: set[str] = set()  # users whose stored profile has been looked for

    def get(self, user_id: str) -> StyleProfile | None:
        return self._profiles.get(user_id)

    def __len__(self) -> int:
        return len(self._profiles)

    async def observe(self, user_id: str, text: str, *, consented: bool) -> StyleProfile:
        """Learn from one message; the first time a consenting user is seen, start from their stored profile."""
        if consented and user_id not in self._looked_up and self.memory is not None:
            self._looked_up.add(user_id)
            stored = await asyncio.to_thread(self.memory.get_profile, user_id, style.PROFILE_KIND)
            if stored and user_id not in self._profiles:
                self._profiles[user_id] = StyleProfile.from_dict(stored)
        profile = style.observe(self._profiles.get(user_id, StyleProfile()), text)
        self._profiles[user_id] = profile
        return profile

    async def persist(self, user_id: str, *, consented: bool) -> bool:
        """Store the user's profile if they consented to memory; True if it was stored."""
        profile = self._profiles.get(user_id)
        if not consented or profile is None or self.memory is None:
            return False
        stored = await asyncio.to_thread(self.memory.put_profile, user_id, style.PROFILE_KIND, profile.to_dict())
        if not stored:
            log.debug("memory store declined the style profile of user %s", user_id)
        return bool(stored)

    def forget(self, user_id: str) -> None:
        """Drop the session copy; the stored copy is the memory store's to delete."""
        self._profiles.pop(user_id, None)
        self._looked_up.discard(user_id)
