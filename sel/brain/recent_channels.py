"""What the brain keeps about each channel for a while, bounded: the last decision (for `/why`), why
SEL's last reply stopped, tone notes on its replies, and when it last answered each author."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from sel.brain.priority import CONVERSATION_WINDOW
from sel.domain import Decision, GenerationStats

NOTES_PER_CONVERSATION = 32
CONVERSATIONS_WITH_NOTES = 256
REPLIED_AT_LIMIT = 1000  # past this many (channel, author) pairs, forget the ones outside the conversation window
DECISIONS_KEPT = 1000  # channels whose last decision `/why` can explain; the least recently active are forgotten


class RecentChannels:
    """Per-channel memos; the least recently active channels are forgotten first."""

    def __init__(self) -> None:
        # One per channel, most recently decided last: `/why` in one channel (or DM) must never
        # explain a message from another.
        self._last_decisions: OrderedDict[str, Decision] = OrderedDict()
        self._replied_at: dict[tuple[str, str], float] = {}  # (channel, author) -> when SEL last answered them
        self._notes: OrderedDict[str, OrderedDict[str, str]] = OrderedDict()  # channel -> reply text -> tone note
        self._finished: OrderedDict[str, str] = OrderedDict()  # channel -> why its last reply stopped ("length")

    def keep_decision(self, channel: str, decision: Decision) -> None:
        self._last_decisions.pop(channel, None)
        self._last_decisions[channel] = decision
        while len(self._last_decisions) > DECISIONS_KEPT:
            self._last_decisions.popitem(last=False)

    def why(self, channel_id: str | None = None) -> str:
        """The last decision in ``channel_id`` explained; with None, the last one anywhere (see Brain.why)."""
        if channel_id is None:
            if not self._last_decisions:
                return "no message decided yet"
            return next(reversed(self._last_decisions.values())).explain()
        decision = self._last_decisions.get(channel_id)
        if decision is None:
            return "no message decided in this channel yet"
        return decision.explain()

    def seconds_since_reply(self, channel: str, author: str, now: float) -> float | None:
        """How long ago SEL last answered ``author`` in ``channel`` (None: not lately)."""
        replied = self._replied_at.get((channel, author))
        return None if replied is None else now - replied

    def keep_reply(self, channel: str, author: str, end: float) -> None:
        self._replied_at[(channel, author)] = end
        if len(self._replied_at) > REPLIED_AT_LIMIT:
            self._replied_at = {k: t for k, t in self._replied_at.items() if end - t <= CONVERSATION_WINDOW}

    def notes(self, channel: str) -> Mapping[str, str]:
        """The tone notes on SEL's recent replies in ``channel``: reply text -> note."""
        return self._notes.get(channel, {})

    def remember_note(self, channel: str, reply: str, tone: str) -> None:
        notes = self._notes.pop(channel, None) or OrderedDict()
        notes[reply] = tone
        while len(notes) > NOTES_PER_CONVERSATION:
            notes.popitem(last=False)
        self._notes[channel] = notes
        while len(self._notes) > CONVERSATIONS_WITH_NOTES:
            self._notes.popitem(last=False)

    def start_reply(self, channel_id: str) -> None:
        """A reply starts in ``channel_id``: the last one's finish no longer applies."""
        self._finished.pop(channel_id, None)

    def keep_finish(self, channel_id: str, stats: GenerationStats | None) -> None:
        self._finished[channel_id] = stats.finish_reason if stats is not None else ""
        while len(self._finished) > DECISIONS_KEPT:
            self._finished.popitem(last=False)

    def hit_length(self, channel_id: str) -> bool:
        """Whether SEL's last reply in ``channel_id`` stopped at its token limit."""
        return self._finished.get(channel_id) == "length"
