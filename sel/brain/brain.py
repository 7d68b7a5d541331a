"""The brain's facade: the only thing the frontends (Discord, terminal) talk to.

For each message a frontend calls :meth:`Brain.decide` (pure, no model call). If the
decision is silent it calls :meth:`Brain.listen` (SEL learns the author's style and the
memory store sees the message, but nothing is said); otherwise it streams
:meth:`Brain.respond`. Commands map to :meth:`mood_report`, :meth:`set_mode`, :meth:`why`,
:meth:`status` and :meth:`forget`.

The brain knows nothing of Discord or llama.cpp: it hands a PromptPlan to an engine with
``stream(slot, plan, *, conversation, max_tokens)`` and talks to memory through MemoryPort.
Blocking work (memory calls, saving the hormone state) runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import tzinfo
from typing import Any

from sel.brain import prompt, style
from sel.brain.decision import decide, reroute
from sel.brain.hormones import HormoneState
from sel.brain.memory_port import MemoryPort
from sel.brain.memory_turn import observe_memory, recall, standing_hint, unseen_episodes
from sel.brain.modes import Mode, get_mode
from sel.brain.mood import mood_of, mood_report
from sel.brain.mood_keeper import MoodKeeper
from sel.brain.recent_channels import RecentChannels
from sel.brain.reply_plan import reply_budget, reply_plan
from sel.brain.reply_stream import ReplyEngine, restyled
from sel.brain.restyle import StreamRestyler, restyle
from sel.brain.style_book import StyleBook
from sel.config import Settings
from sel.domain import Decision, GenerationStats, IncomingMessage, Thought, Turn
from sel.owner_settings import OwnerSettings, Place

log = logging.getLogger(__name__)

CHECK_IN_TOKENS = 60  # a check-in is a line or two


class Brain:
    """Decides whether and how SEL answers, keeps its mood, and shapes its replies."""

    def __init__(
        self,
        settings: Settings,
        engine: ReplyEngine,
        memory: MemoryPort | None = None,
        clock: Callable[[], float] = time.time,
        *,
        tz: tzinfo | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.memory = memory
        self.clock = clock
        self.mode: Mode = get_mode(settings.mode)  # where sel.toml sets no mode of its own
        self.owner = OwnerSettings()  # sel.toml: name, persona, per-place overrides (the app hands in each reload)
        self.styles = StyleBook(memory)
        self.replies = 0
        self.silenced = 0
        self._mood = MoodKeeper(settings.data_dir, clock, tz)
        self._recent = RecentChannels()

    @property
    def vision_available(self) -> bool:
        return self.settings.has_vision  # a vision server, or a local GGUF with its projector

    @property
    def hormones(self) -> HormoneState:
        return self._mood.hormones

    # ---- per message --------------------------------------------------------------------

    def decide(self, msg: IncomingMessage, now: float | None = None) -> Decision:
        """Route and prioritise ``msg`` and decide whether SEL answers. No model call, no I/O;
        the decision is kept for :meth:`why` in ``msg``'s channel."""
        now = self.clock() if now is None else now
        decision = decide(
            msg,
            mode=self.mode_at(self.owner.place(msg.guild_id, msg.channel_id)),
            vision_available=self.vision_available,
            sel_name=self.owner.name,
            seconds_since_reply=self._recent.seconds_since_reply(msg.channel_id, msg.author_id, now),
        )
        self._recent.keep_decision(msg.channel_id, decision)
        return decision

    def reroute(self, decision: Decision, msg: IncomingMessage) -> Decision:
        """``decision`` once ``msg``'s attachments are read into its text: whether SEL answers stays,
        the route and model follow what the files say; `/why` then explains the route taken."""
        decision = reroute(decision, msg, vision_available=self.vision_available)
        self._recent.keep_decision(msg.channel_id, decision)
        return decision

    async def listen(self, msg: IncomingMessage, decision: Decision) -> None:
        """Take in a message SEL stays silent on: style and memory learn from it, nobody is answered."""
        now = self.clock()
        self._mood.at(now)
        self._mood.last_activity = now
        here = self._memory_at(msg)
        _hint, consented = await observe_memory(self.memory, self.styles, msg, decision, now, here=here)
        await self.styles.observe(msg.author_id, decision.route.text, consented=consented)
        self.silenced += 1

    async def respond(
        self,
        msg: IncomingMessage,
        history: Sequence[Turn],
        decision: Decision,
        *,
        again: bool = False,
        prefill: str = "",
    ) -> AsyncGenerator[str | Thought, None]:
        """Stream SEL's reply to ``msg``, restyled for its author.

        ``history`` is the conversation before ``msg``, oldest first (a copy of ``msg`` at its
        end is ignored). Closing the iterator early cancels the generation; SEL then records
        nothing about the reply.

        ``again`` answers a message SEL has answered before (`/sel retry`): the mood, the memory store
        and the style profile took it in the first time, so they are not fed it twice. ``prefill``
        (`/sel continue`, implies ``again``) is the start of a reply that hit its length limit: the
        model continues it, and only the new text is streamed. :meth:`hit_length` tells afterwards
        whether this reply stopped at its limit too.

        The model's reasoning comes through as untouched :class:`Thought` items only when the owner
        asked to see it (SEL_SHOW_REASONING=spoiler); it is never part of the reply's text, nor of
        anything SEL keeps (tone notes, style, memory).
        """
        now = self.clock()
        memory_hint, consented, profile = await self._take_in(msg, decision, now, again=again or bool(prefill))
        here, k = self._memory_at(msg), self.settings.recall_k
        recalled = await recall(self.memory, msg, decision, consented, now, here=here, k=k)
        memories = unseen_episodes(recalled, msg, decision, history)
        mood = mood_of(self._mood.hormones)
        shape = style.shape(profile, get_mode(decision.mode).emoji_budget + mood.emoji_shift)

        if decision.text is not None:
            reply = restyle(decision.text, shape)
            yield reply
            await self._after_reply(msg, reply, None, consented)
            return

        name = self.owner.name
        tone = prompt.tone_line(mood, shape, name)
        note = prompt.late_note(
            tone,
            intent=decision.route.intent,
            author=msg.author_name,
            memory_hint=memory_hint,
            memories=memories,
            name=name,
        )
        plan = reply_plan(msg, history, decision, note, notes=self._recent.notes(msg.channel_id), owner=self.owner)
        plan = dataclasses.replace(plan, prefill=prefill)
        budget = reply_budget(decision, shape, self.settings.max_new_tokens)
        stream = self.engine.stream(decision.slot, plan, conversation=msg.channel_id, max_tokens=budget)
        parts: list[str] = []
        show_thoughts = self.settings.show_reasoning == "spoiler"
        self._recent.start_reply(msg.channel_id)
        stats: GenerationStats | None = None
        async with contextlib.aclosing(restyled(stream, StreamRestyler(shape), show_thoughts)) as pieces:
            async for piece in pieces:
                stats = stats or self._stats_of(msg.channel_id)  # caught while it runs: it is this reply's
                if isinstance(piece, str):
                    parts.append(piece)
                yield piece
        self._recent.keep_finish(msg.channel_id, stats)
        await self._after_reply(msg, "".join(parts), tone, consented)

    def hit_length(self, channel_id: str) -> bool:
        """Whether SEL's last reply in ``channel_id`` stopped at its token limit (`/sel continue` can extend it)."""
        return self._recent.hit_length(channel_id)

    async def check_in(
        self, channel_id: str, history: Sequence[Turn], people: Sequence[str], *, guild_id: str = ""
    ) -> str:
        """A check-in for a channel gone quiet, written by the model in SEL's mood and the persona,
        name and mode in effect there.

        ``people`` are the names of those who talked with SEL lately: the check-in is for them, by
        name (never a mention). No one's memories are used: a check-in is read by the whole channel.
        Whatever the engine raises comes through; an empty answer is returned as "".
        """
        mood = mood_of(self._mood.at(self.clock()))
        place = self.owner.place(guild_id, channel_id)
        mode, name = self.mode_at(place), self.owner.name
        shape = style.shape(None, mode.emoji_budget + mood.emoji_shift)
        note = prompt.check_in_note(prompt.tone_line(mood, shape, name), people, name)
        plan = prompt.check_in_plan(mode, history, note, persona=place.persona, name=name)
        plan = dataclasses.replace(plan, sampling=self.owner.sampling(mode.name))
        stream = self.engine.stream("general", plan, conversation=channel_id, max_tokens=CHECK_IN_TOKENS)
        parts: list[str] = []
        async with contextlib.aclosing(stream):
            async for piece in stream:
                if isinstance(piece, str):
                    parts.append(piece)
        return restyle("".join(parts), shape).strip()

    # ---- commands ----------------------------------------------------------------------

    def mood_report(self, now: float | None = None) -> str:
        """Mood, hormone levels and mode as text (`/mood`, `!mood`)."""
        hormones = self._mood.at(self.clock() if now is None else now)
        return f"{mood_report(hormones)}\nmode: {self.mode.name}"

    def set_mode(self, name: str) -> Mode:
        """Switch personality mode; InputError (listing the modes) for an unknown name."""
        self.mode = get_mode(name)
        log.info("mode set to %s", self.mode.name)
        return self.mode

    def mode_at(self, place: Place) -> Mode:
        """The mode in effect at ``place``: its own from sel.toml, else SEL's; with the place's reply threshold."""
        mode = get_mode(place.mode) if place.mode is not None else self.mode
        if place.reply_threshold is not None:
            mode = dataclasses.replace(mode, silence_threshold=place.reply_threshold)
        return mode

    def why(self, channel_id: str | None = None) -> str:
        """Why SEL did what it did with the last message it decided on in ``channel_id``
        (`/why`, `!why`); with None, the last message it decided on anywhere (for a
        single-conversation frontend such as the terminal)."""
        return self._recent.why(channel_id)

    def status(self) -> dict[str, Any]:
        """Mode, mood, counts and capabilities; nothing about any one channel's messages."""
        return {
            "mode": self.mode.name,
            "mood": mood_of(self._mood.hormones).name,
            "hormones": {name: round(level, 3) for name, level in self._mood.hormones.levels.items()},
            "replies": self.replies,
            "silenced": self.silenced,
            "style_profiles": len(self.styles),
            "memory": self.memory is not None,
            "vision": self.vision_available,
        }

    def tick(self, now: float | None = None) -> list[str]:
        """Let time act on the mood (being ignored, long silence); frontends may call this every minute."""
        return self._mood.tick(self.clock() if now is None else now)

    async def forget(self, user_id: str) -> None:
        """Forget a user: their memories and stored style (memory store) and the session's style profile."""
        if self.memory is not None:
            await asyncio.to_thread(self.memory.forget, user_id)
        self.styles.forget(user_id)

    async def save(self) -> None:
        """Write the hormone state now (the brain also saves after every reply)."""
        await asyncio.to_thread(self._mood.save)

    # ---- internals ---------------------------------------------------------------------

    async def _take_in(
        self, msg: IncomingMessage, decision: Decision, now: float, *, again: bool
    ) -> tuple[str, bool, style.StyleProfile | None]:
        """Let the mood, memory and style take ``msg`` in (once); returns (memory hint, consented, profile)."""
        if again:
            consented = False
            if self.memory is not None:
                consented = bool(await asyncio.to_thread(self.memory.has_consent, msg.author_id))
            return standing_hint(self.memory, decision, consented), consented, self.styles.get(msg.author_id)
        self._mood.feel(decision, now)
        here = self._memory_at(msg)
        memory_hint, consented = await observe_memory(self.memory, self.styles, msg, decision, now, here=here)
        profile = await self.styles.observe(msg.author_id, decision.route.text, consented=consented)
        return memory_hint, consented, profile

    def _stats_of(self, channel_id: str) -> GenerationStats | None:
        """The engine's running generation, when it is this channel's."""
        stats = getattr(self.engine, "last_stats", None)  # test engines may keep no figures
        return stats if isinstance(stats, GenerationStats) and stats.conversation == channel_id else None

    def _memory_at(self, msg: IncomingMessage) -> bool:
        """Whether sel.toml leaves memory on where ``msg`` was posted (there, SEL neither stores nor recalls)."""
        return self.owner.place(msg.guild_id, msg.channel_id).memory is not False

    async def _after_reply(self, msg: IncomingMessage, reply: str, tone: str | None, consented: bool) -> None:
        end = self.clock()
        self.replies += 1
        self._recent.keep_reply(msg.channel_id, msg.author_id, end)
        # "Ignored" means SEL asked something and nobody answered, not that a chat ended naturally.
        self._mood.unanswered_since = end if "?" in reply else None
        if tone is not None and reply.strip():
            self._recent.remember_note(msg.channel_id, reply.strip(), tone)
        await asyncio.to_thread(self._mood.save)
        await self.styles.persist(msg.author_id, consented=consented)
