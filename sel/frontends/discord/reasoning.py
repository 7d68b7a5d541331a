"""The model's reasoning on Discord (SEL_SHOW_REASONING=spoiler): collapsed in a spoiler, apart from the reply.

Each reasoning block is its own message, posted when the model finishes it (so before the answer
it leads to): a small "reasoning" header and the text inside ``||…||``. The text is escaped, so a
``||`` (or any markdown) in it cannot end the spoiler early; reasoning too long for one message goes
as an attached text file instead. The reply is never touched: its length and its splitting into
messages do not count the reasoning, and SEL's conversation history leaves these messages out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import discord

from sel.frontends.discord.split import DISCORD_LIMIT

HEADER = "-# reasoning"
ATTACHED = f"{HEADER} (attached: too long for a message)"
FILE_NAME = "reasoning.txt"


@dataclass(frozen=True)
class ReasoningPost:
    """What to post for one reasoning block: a spoiler message, or a short line with the text as a file."""

    content: str
    file_text: str | None = None

    def file(self) -> discord.File | None:
        if self.file_text is None:
            return None
        return discord.File(io.BytesIO(self.file_text.encode()), FILE_NAME)


def reasoning_post(text: str, limit: int = DISCORD_LIMIT) -> ReasoningPost:
    """``text`` collapsed in a spoiler under a header, or attached as a file when that would not fit."""
    # Escaping turns every | into \|, so the spoiler closes only where SEL closes it.
    content = f"{HEADER}\n||{discord.utils.escape_markdown(text.strip())}||"
    if len(content) <= limit:
        return ReasoningPost(content)
    return ReasoningPost(ATTACHED, file_text=text.strip() + "\n")


def is_reasoning_post(content: str, from_sel: bool) -> bool:
    """Whether a message is one of SEL's reasoning posts (never part of the conversation it reads)."""
    return from_sel and (content == ATTACHED or content.startswith(HEADER + "\n||"))
