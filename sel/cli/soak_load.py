"""The soak bench's load: people writing to SEL in ten channels of the Discord stand-in, and when each was answered.

About one message a second, in turn across the channels and people: mostly mentions, some replies to
SEL's last message in the channel, prefix commands (``!status``, ``!mood``) and a slash command
(``/sel mood``). A message counts as answered when SEL's reply to it is complete (no in-progress
marker); its latency runs from the message being sent to that moment, on the stand-in's clock.
The stand-in comes from tests/standin (a source checkout), so it is typed loosely here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sel.frontends.discord.stream import MARKER

CHANNELS = 10
PEOPLE = ("alice", "bob", "carol", "dave")
# Twenty messages in a row: 14 mentions, 3 replies to SEL, 2 prefix commands, 1 slash command; every kind
# within the first eleven, so that a short smoke run sees them all.
PATTERN: tuple[str, ...] = (
    "mention", "mention", "prefix", "mention", "slash", *("mention",) * 5,
    "reply", "mention", "reply", "mention", "mention", "reply", "mention", "mention", "prefix", "mention",
)  # fmt: skip
QUESTIONS = (
    "how is your day going?",
    "what do you think about tea?",
    "can you explain recursion in one sentence?",
    "tell me something nice",
    "what should I cook tonight?",
)


@dataclass
class Sent:
    kind: str
    at: float  # the stand-in's clock when it was sent
    answered_at: float | None = None


@dataclass
class Load:
    """Sends the soak's messages and follows them until SEL's answer to each is complete."""

    standin: Any
    channels: list[Any] = field(default_factory=list)
    people: list[Any] = field(default_factory=list)
    sent: dict[int, Sent] = field(default_factory=dict)  # message id -> what and when
    slashes: dict[int, tuple[Any, Sent]] = field(default_factory=dict)  # interaction id -> (interaction, sent)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def build_world(self) -> None:
        """Ten text channels (the default world's two and eight more) and four people in the server."""
        s = self.standin
        self.channels = [s.general, s.random] + [s.add_text_channel(s.guild, f"soak-{i}") for i in range(CHANNELS - 2)]
        self.people = [s.alice, s.bob] + [s.add_user(name) for name in PEOPLE[2:]]
        for person in self.people[2:]:
            s.add_member(s.guild, person)

    async def send_next(self, bot_id: int) -> str:
        """Send the next message of the pattern; returns its kind."""
        i = next(self._counter)
        kind = PATTERN[i % len(PATTERN)]
        channel = self.channels[i % CHANNELS].id
        person = self.people[(i // CHANNELS) % len(self.people)]
        question = QUESTIONS[i % len(QUESTIONS)]
        previous = self._last_sel_message(channel) if kind == "reply" else None
        if kind == "reply" and previous is None:
            kind = "mention"  # nothing of SEL's to reply to in this channel yet
        now = self.standin.clock()
        if kind == "slash":
            interaction = await self.standin.slash(person, channel, "sel", subcommand="mood")
            self.slashes[interaction.id] = (interaction, Sent(kind, now))
            return kind
        text = {"mention": f"<@{bot_id}> {question}", "reply": f"and {question}", "prefix": "!status"}[kind]
        if kind == "prefix" and i % 2:
            text = "!mood"
        payload = await self.standin.send_message(channel, person, text, reply_to=previous)
        self.sent[int(payload["id"])] = Sent(kind, now)
        return kind

    def check_answers(self) -> None:
        """Note the messages whose answer is now complete."""
        bot_id = self.standin.world.bot.id
        for message in list(self.standin.world.messages.values()):
            target = message.reply_to
            if message.author_id != bot_id or target not in self.sent or message.content.endswith(MARKER.strip()):
                continue
            sent = self.sent[target]
            if sent.answered_at is None:
                sent.answered_at = message.edited_at or message.created_at
        for interaction, sent in self.slashes.values():
            response = self.standin.interaction_response(interaction) if sent.answered_at is None else None
            if response is not None:
                sent.answered_at = response.edited_at or response.created_at

    def fewest_in_a_channel(self) -> int:
        """Messages (anyone's, SEL's too) in the channel that has the fewest."""
        return min(len(self.standin.messages(channel.id)) for channel in self.channels)

    def everything(self) -> list[Sent]:
        return list(self.sent.values()) + [sent for _, sent in self.slashes.values()]

    def latencies(self, kinds: tuple[str, ...]) -> list[float]:
        """Sent -> answered, in seconds, for the answered messages of these kinds."""
        return [s.answered_at - s.at for s in self.everything() if s.answered_at is not None and s.kind in kinds]

    def summary(self) -> dict[str, Any]:
        """What was sent and what became of it (unanswered: taken in without a reply, or still waiting)."""
        items = self.everything()
        answered = Counter(s.kind for s in items if s.answered_at is not None)
        return {
            "sent": dict(Counter(s.kind for s in items)),
            "answered": dict(answered),
            "unanswered": len(items) - sum(answered.values()),
        }

    def _last_sel_message(self, channel_id: int) -> int | None:
        mine = self.standin.bot_messages(channel_id)
        return mine[-1].id if mine else None
