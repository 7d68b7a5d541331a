"""SEL's last replies: the one `/sel retry` regenerates and the one `/sel continue` extends.

Per channel, SEL's last reply (what `continue` extends) and, per person, its last reply to them
(what `retry` regenerates). Kept in memory only, for a bounded number of channels and people:
after a restart there is nothing to retry or continue.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

import discord

from sel.frontends.discord.lanes import Job

MAX_KEPT = 1000
K = TypeVar("K")


@dataclass
class SentReply:
    """A reply SEL posted: the message it answered (with the brain's decision) and what it shows."""

    job: Job
    messages: list[discord.Message]  # one reply can span several Discord messages
    shown: list[str]  # what each of them shows
    text: str  # the reply's own text, without the small print above it (job.prefix)
    hit_length: bool  # it stopped at its token limit: `continue` can extend it

    @property
    def channel_id(self) -> int:
        return self.job.message.channel.id

    @property
    def author_id(self) -> int:
        return self.job.message.author.id


@dataclass
class Redo(Job):
    """`retry` (or, with ``extend``, `continue`) of a sent reply: run in its channel's lane, like a reply."""

    sent: SentReply | None = None
    extend: bool = False


class LastReplies:
    """The last reply per channel and per (channel, person), the least recently used forgotten first."""

    def __init__(self, limit: int = MAX_KEPT) -> None:
        self.limit = limit
        self._in_channel: OrderedDict[int, SentReply] = OrderedDict()
        self._to_person: OrderedDict[tuple[int, int], SentReply] = OrderedDict()

    def keep(self, reply: SentReply) -> None:
        _put(self._in_channel, reply.channel_id, reply, self.limit)
        _put(self._to_person, (reply.channel_id, reply.author_id), reply, self.limit)

    def last(self, channel_id: int) -> SentReply | None:
        """SEL's last reply in the channel."""
        return self._in_channel.get(channel_id)

    def to(self, channel_id: int, author_id: int) -> SentReply | None:
        """SEL's last reply to this person in the channel."""
        return self._to_person.get((channel_id, author_id))

    def drop_channel(self, channel_id: int) -> None:
        """Forget a channel's replies (after `reset`: the conversation starts afresh)."""
        self._in_channel.pop(channel_id, None)
        for pair in [k for k in self._to_person if k[0] == channel_id]:
            del self._to_person[pair]

    def drop_author(self, author_id: int) -> None:
        """Forget the replies to a person (after `forget`): their message is in each."""
        for key in [k for k, r in self._in_channel.items() if r.author_id == author_id]:
            del self._in_channel[key]
        for pair in [k for k in self._to_person if k[1] == author_id]:
            del self._to_person[pair]


def _put(book: OrderedDict[K, SentReply], key: K, reply: SentReply, limit: int) -> None:
    book.pop(key, None)
    book[key] = reply
    while len(book) > limit:
        book.popitem(last=False)
