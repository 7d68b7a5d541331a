"""What the brain needs from a memory store. sel.memory.MemoryStore provides it; the brain
also runs with no memory at all (``memory=None``).

Every method blocks (embeddings, disk): the brain calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


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


class MemoryPort(Protocol):
    """Consent-based memory for one user at a time; nothing is stored without consent."""

    def has_consent(self, user_id: str) -> bool: ...

    def observe(
        self, user_id: str, text: str, *, tags: Sequence[str] = (), now: float | None = None
    ) -> ObserveResultLike: ...

    def recall(self, user_id: str, query: str, *, k: int = 5, now: float | None = None) -> Sequence[RecalledLike]: ...

    def get_profile(self, user_id: str, kind: str) -> dict[str, Any] | None: ...

    def put_profile(self, user_id: str, kind: str, data: dict[str, Any]) -> bool: ...

    def forget(self, user_id: str) -> None: ...
