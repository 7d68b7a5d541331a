"""A reply that streams into Discord by editing its message.

The first chunk is posted as soon as it exists; after that each message is edited at
most once per ``interval`` seconds (Discord rate-limits edits per channel), with an
in-progress marker that the final edit removes. Text past Discord's 2000-character
limit continues in new messages, split by :func:`split_for_discord`. A mid-stream update
that Discord refuses (an outage, a storm of 429s) is only late: the generation goes on,
and the next update, or the final one, shows the text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from sel.frontends.discord.split import DISCORD_LIMIT, split_for_discord

log = logging.getLogger(__name__)

MARKER = " ⏳"
EMPTY_REPLY = "…"


class Editable(Protocol):
    """A posted message whose text can be replaced (discord.Message fits)."""

    async def edit(self, *, content: str) -> object: ...


MessageT = TypeVar("MessageT", bound=Editable)
Send = Callable[[str], Awaitable[MessageT]]  # posts a new message and returns it


class StreamingReply(Generic[MessageT]):
    """Accumulates a streamed reply and mirrors it into one or more Discord messages."""

    def __init__(
        self,
        send_first: Send[MessageT],
        send_more: Send[MessageT],
        *,
        interval: float = 1.0,
        stream: bool = True,
        clock: Callable[[], float] = time.monotonic,
        refused: tuple[type[Exception], ...] = (),
    ) -> None:
        self._send_first = send_first
        self._send_more = send_more
        self.interval = interval
        self.stream = stream
        self.clock = clock
        self.refused = refused  # what a refused send or edit raises (discord.HTTPException)
        self._quiet_until = float("-inf")  # after a refused update, the next waits an interval
        self.text = ""
        self.messages: list[MessageT] = []
        self._shown: list[str] = []
        self._edited_at: list[float] = []

    def resume(self, messages: list[MessageT], shown: list[str]) -> None:
        """Carry on a reply already posted as ``messages`` (showing ``shown``; set :attr:`text` to their
        text): what is added next edits the last of them, and continues in new messages past the limit."""
        self.messages = list(messages)
        self._shown = list(shown)
        self._edited_at = [float("-inf")] * len(messages)  # edited long ago: free to edit now

    async def add(self, chunk: str) -> None:
        self.text += chunk
        if not self.stream or not self.text.strip():
            return
        now = self.clock()
        if now < self._quiet_until:
            return
        if not self.messages or now - self._edited_at[-1] >= self.interval:
            try:
                await self._sync(final=False)
            except self.refused as err:
                log.info("a streaming update was refused, showing the text later: %s", err)
                self._quiet_until = self.clock() + self.interval

    @property
    def shown(self) -> list[str]:
        """What each posted message shows now; after :meth:`finish`, the final text without the marker.

        The posted ``discord.Message`` objects keep the text they were first sent with
        (``Message.edit`` returns a new object), so read the final text from here.
        """
        return list(self._shown)

    async def finish(self) -> list[MessageT]:
        """Final edit(s) with the complete text and no marker; returns the messages posted."""
        if not self.text.strip():
            self.text = EMPTY_REPLY
        await self._sync(final=True)
        return self.messages

    async def _sync(self, *, final: bool) -> None:
        pieces = split_for_discord(self.text.strip(), DISCORD_LIMIT - len(MARKER))
        contents = [p if (final or i < len(pieces) - 1) else p + MARKER for i, p in enumerate(pieces)]
        # New messages first, then edits: while a reply streams, some message always shows the
        # in-progress marker (a continuation appears before the previous part is finalised).
        for content in contents[len(self.messages) :]:
            send = self._send_first if not self.messages else self._send_more
            self.messages.append(await send(content))
            self._shown.append(content)
            self._edited_at.append(self.clock())
        for i, content in enumerate(contents):
            if self._shown[i] != content:
                await self._edit(i, content, wait=final or i < len(contents) - 1)

    async def _edit(self, i: int, content: str, *, wait: bool) -> None:
        remaining = self.interval - (self.clock() - self._edited_at[i])
        if remaining > 0:
            if not wait:
                return
            await asyncio.sleep(remaining)  # a message is never edited more often than the interval
        await self.messages[i].edit(content=content)
        self._shown[i] = content
        self._edited_at[i] = self.clock()
