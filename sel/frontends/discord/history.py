"""Per-conversation history for the Discord frontend, kept from gateway events.

A conversation is a channel, a thread (its own channel id) or a DM. Each keeps its last
``limit`` messages; on first contact the channel's recent history is fetched. A reply to
an older message branches from there: its context is the reply chain, not the channel's
latest messages. Back-to-back messages from one author are read as one turn.

`/sel reset` sets a channel's start: messages up to it (by id, so also those re-read from
Discord after a restart, and those a reply chain reaches back to) never enter a prompt again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sel.domain import CUT_TURN, Turn

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 1000
REPLY_CHAIN_DEPTH = 20


@dataclass(frozen=True)
class Entry:
    message_id: int
    author_id: int
    author_name: str
    text: str
    from_sel: bool
    reference_id: int | None = None


class ConversationLog:
    """The last messages of every conversation SEL can see, bounded in count and size."""

    def __init__(self, limit: int = 50) -> None:
        self.limit = limit
        self._logs: OrderedDict[int, deque[Entry]] = OrderedDict()
        self._cut: dict[int, bool] = {}
        self.starts: dict[int, int] = {}  # channel -> the last message id before a `reset` (kept on disk, resets.py)

    def knows(self, channel_id: int) -> bool:
        return channel_id in self._logs

    def _log(self, channel_id: int) -> deque[Entry]:
        log_ = self._logs.pop(channel_id, None)
        if log_ is None:
            log_ = deque(maxlen=self.limit)
        self._logs[channel_id] = log_
        while len(self._logs) > MAX_CONVERSATIONS:
            old, _ = self._logs.popitem(last=False)
            self._cut.pop(old, None)
        return log_

    def record(self, channel_id: int, entry: Entry) -> None:
        log_ = self._log(channel_id)
        if any(e.message_id == entry.message_id for e in log_):
            self.update(channel_id, entry.message_id, entry.text)
            return
        if len(log_) == log_.maxlen:
            self._cut[channel_id] = True
        log_.append(entry)

    def update(self, channel_id: int, message_id: int, text: str) -> None:
        log_ = self._logs.get(channel_id)
        if log_ is None:
            return
        for i, e in enumerate(log_):
            if e.message_id == message_id:
                log_[i] = Entry(e.message_id, e.author_id, e.author_name, text, e.from_sel, e.reference_id)
                return

    def remove(self, channel_id: int, message_id: int) -> None:
        log_ = self._logs.get(channel_id)
        if log_ is not None:
            for e in list(log_):
                if e.message_id == message_id:
                    log_.remove(e)

    def mark_cut(self, channel_id: int) -> None:
        self._cut[channel_id] = True

    def start_after(self, channel_id: int, message_id: int) -> None:
        """Start the conversation afresh: messages up to ``message_id`` leave every later prompt."""
        self.starts[channel_id] = max(message_id, self.starts.get(channel_id, 0))

    def since_start(self, channel_id: int, entries: Sequence[Entry]) -> list[Entry]:
        """``entries`` without those from before the channel's last reset."""
        start = self.starts.get(channel_id, 0)
        return [e for e in entries if e.message_id > start]

    def find(self, channel_id: int, message_id: int) -> Entry | None:
        for e in self._logs.get(channel_id, ()):
            if e.message_id == message_id:
                return e
        return None

    def before(self, channel_id: int, message_id: int) -> tuple[list[Entry], bool]:
        """Entries before ``message_id`` (all entries if it is unknown) and since the last reset, and
        whether older ones were cut."""
        entries = list(self._logs.get(channel_id, ()))
        for i, e in enumerate(entries):
            if e.message_id == message_id:
                entries = entries[:i]
                break
        kept = self.since_start(channel_id, entries)
        # When the reset point is still in the log, whatever the limit dropped came before it.
        cut = self._cut.get(channel_id, False) and len(kept) == len(entries)
        return kept, cut

    def drop_author(self, author_id: int) -> None:
        """Forget a user's messages from every conversation (after `forget`)."""
        for channel_id, log_ in self._logs.items():
            kept = [e for e in log_ if e.author_id != author_id]
            self._logs[channel_id] = deque(kept, maxlen=self.limit)


def to_turns(entries: Sequence[Entry], *, cut: bool, sel_name: str = "SEL") -> list[Turn]:
    """Entries as prompt turns, back-to-back messages of one author merged into one turn."""
    turns: list[Turn] = [CUT_TURN] if cut and entries else []
    previous: Entry | None = None
    for e in entries:
        if not e.text.strip():
            continue
        if previous is not None and previous.author_id == e.author_id and turns:
            last = turns[-1]
            turns[-1] = Turn(last.speaker, f"{last.text}\n{e.text}", from_sel=last.from_sel)
        else:
            turns.append(Turn(sel_name if e.from_sel else e.author_name, e.text, from_sel=e.from_sel))
        previous = e
    return turns


async def reply_chain(
    start_id: int,
    lookup: Callable[[int], Entry | None],
    fetch: Callable[[int], Awaitable[Entry]],
    depth: int = REPLY_CHAIN_DEPTH,
) -> list[Entry]:
    """The messages a reply points back through, oldest first (the replied-to message last)."""
    chain: list[Entry] = []
    next_id: int | None = start_id
    seen: set[int] = set()
    while next_id is not None and len(chain) < depth and next_id not in seen:
        seen.add(next_id)
        entry = lookup(next_id)
        if entry is None:
            try:
                entry = await fetch(next_id)
            except Exception as err:  # deleted or inaccessible: the chain simply ends there
                log.debug("reply chain stops at %s: %s", next_id, err)
                entry = None
        if entry is None:
            break
        chain.append(entry)
        next_id = entry.reference_id
    chain.reverse()
    return chain
