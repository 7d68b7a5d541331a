"""The one interface every engine offers: in-process llama.cpp, an OpenAI-compatible server, or both.

Engines stream a reply as ``str`` chunks (the reply's text) and :class:`~sel.domain.Thought`
items (reasoning, never part of the reply). Closing the stream cancels the generation.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol

from sel.domain import GenerationStats, PromptPlan, Thought


class ChatEngine(Protocol):
    """What the composite :class:`~sel.llm.engine.Engine` needs of each engine, and offers itself.

    Checking model files (``check_models``) is the local engine's own business; a server's models
    are checked by ``warm_up``.
    """

    @property
    def last_stats(self) -> GenerationStats | None:
        """The most recent generation's figures (live while it runs), or None before the first."""
        ...

    def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str | Thought, None]:
        """Yield the reply to ``plan`` as it is generated; closing the iterator cancels it."""
        ...

    async def complete(self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None) -> str:
        """The whole reply's text (without reasoning)."""
        ...

    async def warm_up(self, slot: str = "general") -> None:
        """Make ``slot`` ready to answer (load it, or check the server and model name)."""
        ...

    def status(self) -> dict[str, Any]:
        """Plain data about the slots, for `status` commands."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...
