"""What the brain needs from a memory store. sel.memory.MemoryStore provides it; the brain
also runs with no memory at all (``memory=None``).

Every method blocks (embeddings, disk): the brain calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sel.domain import IncomingMessage


def place_of(msg: IncomingMessage) -> str:
    """Where a message was said, as the memory store reads it (sel.memory.scopes): "dm" for a DM or the
    terminal (the owner's private chat), "guild:<id>" for a server. What is learned there comes back only
    where it may, and a reply there recalls only what may come back there. A message that is neither
    (a frontend that set no server) gets a server of its own, "guild:unknown": it never sees DM memories."""
    if msg.is_dm:
        return "dm"
    return f"guild:{msg.guild_id or 'unknown'}"


class ObserveResultLike(Protocol):
    """What :meth:`MemoryPort.observe` reports: a consent change (None: no change) and a hint for the reply."""

    @property
    def consent_changed(self) -> bool | None: ...

    @property
    def reply_hint(self) -> str: ...


class RecalledLike(Protocol):
    """One recalled memory."""

    @property
    def text(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def tags(self) -> Sequence[str]: ...

    @property
    def hard(self) -> bool: ...

    @property
    def kind(self) -> str:
        """Either "fact", or "episode": one of the person's own earlier turns, kept as they said it."""
        ...

    @property
    def said_at(self) -> float | None: ...


class MemoryPort(Protocol):
    """Consent-based memory for one user at a time; nothing is stored without consent."""

    def has_consent(self, user_id: str) -> bool: ...

    def observe(
        self,
        user_id: str,
        text: str,
        *,
        tags: Sequence[str] = (),
        now: float | None = None,
        where: str | None = None,
        channel: str | None = None,
    ) -> ObserveResultLike:
        """Take the message in; ``where`` is its place (:func:`place_of`), ``channel`` its conversation."""
        ...

    def recall(
        self,
        user_id: str,
        query: str,
        *,
        k: int = 5,
        now: float | None = None,
        where: str | None = None,
        neighbours: int = 0,
    ) -> Sequence[RecalledLike]:
        """The user's memories for a reply at ``where``: only those that may come back there."""
        ...

    def get_profile(self, user_id: str, kind: str) -> dict[str, Any] | None: ...

    def put_profile(self, user_id: str, kind: str, data: dict[str, Any]) -> bool: ...

    def forget(self, user_id: str) -> None: ...
