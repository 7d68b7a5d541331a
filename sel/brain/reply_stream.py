"""The reply as it streams: the engine the brain writes through, and its chunks restyled as they arrive."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Protocol

from sel.brain.restyle import StreamRestyler
from sel.domain import PromptPlan, Thought


class ReplyEngine(Protocol):
    """The part of sel.llm.engine.Engine the brain uses."""

    def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str | Thought, None]: ...


async def restyled(
    stream: AsyncGenerator[str | Thought, None], restyler: StreamRestyler, show_thoughts: bool
) -> AsyncGenerator[str | Thought, None]:
    """The engine's chunks reshaped for the person as they arrive; closing this closes the engine's stream.

    Reasoning (Thought items) never goes through the restyler: it is passed on untouched when
    ``show_thoughts``, and left out otherwise.
    """
    async with contextlib.aclosing(stream):
        async for chunk in stream:
            if isinstance(chunk, Thought):
                if show_thoughts:
                    yield chunk
                continue
            if piece := restyler.feed(chunk):
                yield piece
    if tail := restyler.finish():
        yield tail
