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
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import tzinfo
from typing import Any, Protocol

from sel.brain import prompt, style
from sel.brain.decision import decide, reroute
from sel.brain.hormone_store import HormoneStore
from sel.brain.hormones import HormoneState, apply_event, decay, initial_state
from sel.brain.memory_port import MemoryPort, RecalledLike, place_of
from sel.brain.modes import Mode, get_mode
from sel.brain.mood import mood_of, mood_report
from sel.brain.priority import CONVERSATION_WINDOW
from sel.brain.restyle import StreamRestyler, restyle
from sel.brain.stimuli import idle_events, message_events
from sel.brain.style_book import StyleBook
from sel.config import Settings
from sel.domain import Decision, GenerationStats, IncomingMessage, PromptPlan, Thought, Turn
from sel.owner_settings import OwnerSettings, Place

log = logging.getLogger(__name__)

RECALL_MIN_WORDS = 4
RECALL_NEIGHBOURS = 1  # the author's turn before and after each recalled episode of theirs
NOTES_PER_CONVERSATION = 32
CONVERSATIONS_WITH_NOTES = 256
REPLIED_AT_LIMIT = 1000  # past this many (channel, author) pairs, forget the ones outside the conversation window
DECISIONS_KEPT = 1000  # channels whose last decision `/why` can explain; the least recently active are forgotten
CHECK_IN_TOKENS = 60  # a check-in is a line or two


class ReplyEngine(Protocol):
    """The part of sel.llm.engine.Engine the brain uses."""

    def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str | Thought, None]: ...


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
        self.tz = tz  # for the circadian rhythm; None means the machine's local time
        self.mode: Mode = get_mode(settings.mode)  # where sel.toml sets no mode of its own
        self.owner = OwnerSettings()  # sel.toml: name, persona, per-place overrides (the app hands in each reload)
        self.styles = StyleBook(memory)
        self.replies = 0
        self.silenced = 0
        self._store = HormoneStore(settings.data_dir)
        self._hormones: HormoneState = self._store.load() or initial_state(clock(), tz)
        # One per channel, most recently decided last: `/why` in one channel (or DM) must never
        # explain a message from another.
        self._last_decisions: OrderedDict[str, Decision] = OrderedDict()
        self._replied_at: dict[tuple[str, str], float] = {}  # (channel, author) -> when SEL last answered them
        self._last_activity: float | None = None
        self._unanswered_since: float | None = None
        self._notes: OrderedDict[str, OrderedDict[str, str]] = OrderedDict()  # channel -> reply text -> tone note
        self._finished: OrderedDict[str, str] = OrderedDict()  # channel -> why its last reply stopped ("length")

    @property
    def vision_available(self) -> bool:
        return self.settings.has_vision  # a vision server, or a local GGUF with its projector

    @property
    def hormones(self) -> HormoneState:
        return self._hormones

    # ---- per message --------------------------------------------------------------------

    def decide(self, msg: IncomingMessage, now: float | None = None) -> Decision:
        """Route and prioritise ``msg`` and decide whether SEL answers. No model call, no I/O;
        the decision is kept for :meth:`why` in ``msg``'s channel."""
        now = self.clock() if now is None else now
        replied = self._replied_at.get((msg.channel_id, msg.author_id))
        decision = decide(
            msg,
            mode=self.mode_at(self.owner.place(msg.guild_id, msg.channel_id)),
            vision_available=self.vision_available,
            sel_name=self.owner.name,
            seconds_since_reply=None if replied is None else now - replied,
        )
        self._keep_decision(msg.channel_id, decision)
        return decision

    def reroute(self, decision: Decision, msg: IncomingMessage) -> Decision:
        """``decision`` once ``msg``'s attachments are read into its text: whether SEL answers stays,
        the route and model follow what the files say; `/why` then explains the route taken."""
        decision = reroute(decision, msg, vision_available=self.vision_available)
        self._keep_decision(msg.channel_id, decision)
        return decision

    async def listen(self, msg: IncomingMessage, decision: Decision) -> None:
        """Take in a message SEL stays silent on: style and memory learn from it, nobody is answered."""
        now = self.clock()
        self._hormones = decay(self._hormones, now, self.tz)
        self._last_activity = now
        _hint, consented = await self._observe_memory(msg, decision, now)
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
        memories = unseen_episodes(await self._recall(msg, decision, consented, now), msg, decision, history)
        mood = mood_of(self._hormones)
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
        plan = dataclasses.replace(self._plan(msg, history, decision, note), prefill=prefill)
        stream = self.engine.stream(
            decision.slot, plan, conversation=msg.channel_id, max_tokens=self._reply_budget(decision, shape)
        )
        parts: list[str] = []
        show_thoughts = self.settings.show_reasoning == "spoiler"
        self._finished.pop(msg.channel_id, None)
        stats: GenerationStats | None = None
        async with contextlib.aclosing(_restyled(stream, StreamRestyler(shape), show_thoughts)) as pieces:
            async for piece in pieces:
                stats = stats or self._stats_of(msg.channel_id)  # caught while it runs: it is this reply's
                if isinstance(piece, str):
                    parts.append(piece)
                yield piece
        self._keep_finish(msg.channel_id, stats)
        await self._after_reply(msg, "".join(parts), tone, consented)

    def hit_length(self, channel_id: str) -> bool:
        """Whether SEL's last reply in ``channel_id`` stopped at its token limit (`/sel continue` can extend it)."""
        return self._finished.get(channel_id) == "length"

    async def check_in(
        self, channel_id: str, history: Sequence[Turn], people: Sequence[str], *, guild_id: str = ""
    ) -> str:
        """A check-in for a channel gone quiet, written by the model in SEL's mood and the persona,
        name and mode in effect there.

        ``people`` are the names of those who talked with SEL lately: the check-in is for them, by
        name (never a mention). No one's memories are used: a check-in is read by the whole channel.
        Whatever the engine raises comes through; an empty answer is returned as "".
        """
        self._hormones = decay(self._hormones, self.clock(), self.tz)
        mood = mood_of(self._hormones)
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

    def _plan(self, msg: IncomingMessage, history: Sequence[Turn], decision: Decision, note: str) -> PromptPlan:
        text = decision.route.text
        turn = Turn(msg.author_name, text)
        mode = get_mode(decision.mode)  # the mode in effect where the message was posted
        plan = prompt.build_plan(
            mode,
            self._history_before(msg, history, text),
            turn,
            note,
            self._notes.get(msg.channel_id, {}),
            persona=self.owner.place(msg.guild_id, msg.channel_id).persona,
            name=self.owner.name,
            sampling=self.owner.sampling(mode.name),
        )
        return dataclasses.replace(plan, images=msg.images) if decision.slot == "vision" else plan

    def _reply_budget(self, decision: Decision, shape: style.ReplyShape) -> int:
        """Tokens for the reply: the mode's length for the slot, scaled to how long the person writes (not code)."""
        max_tokens = get_mode(decision.mode).max_tokens(self.settings.max_new_tokens, decision.slot)
        if decision.slot != "coder":
            max_tokens = max(16, round(max_tokens * shape.length_factor))
        return max_tokens

    # ---- commands ----------------------------------------------------------------------

    def mood_report(self, now: float | None = None) -> str:
        """Mood, hormone levels and mode as text (`/mood`, `!mood`)."""
        self._hormones = decay(self._hormones, self.clock() if now is None else now, self.tz)
        return f"{mood_report(self._hormones)}\nmode: {self.mode.name}"

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
        if channel_id is None:
            if not self._last_decisions:
                return "no message decided yet"
            return next(reversed(self._last_decisions.values())).explain()
        decision = self._last_decisions.get(channel_id)
        if decision is None:
            return "no message decided in this channel yet"
        return decision.explain()

    def status(self) -> dict[str, Any]:
        """Mode, mood, counts and capabilities; nothing about any one channel's messages."""
        return {
            "mode": self.mode.name,
            "mood": mood_of(self._hormones).name,
            "hormones": {name: round(level, 3) for name, level in self._hormones.levels.items()},
            "replies": self.replies,
            "silenced": self.silenced,
            "style_profiles": len(self.styles),
            "memory": self.memory is not None,
            "vision": self.vision_available,
        }

    def tick(self, now: float | None = None) -> list[str]:
        """Let time act on the mood (being ignored, long silence); frontends may call this every minute."""
        now = self.clock() if now is None else now
        events = idle_events(now, self._last_activity, self._unanswered_since)
        self._apply(events, now)
        return events

    async def forget(self, user_id: str) -> None:
        """Forget a user: their memories and stored style (memory store) and the session's style profile."""
        if self.memory is not None:
            await asyncio.to_thread(self.memory.forget, user_id)
        self.styles.forget(user_id)

    async def save(self) -> None:
        """Write the hormone state now (the brain also saves after every reply)."""
        await asyncio.to_thread(self._save_hormones)

    # ---- internals ---------------------------------------------------------------------

    async def _take_in(
        self, msg: IncomingMessage, decision: Decision, now: float, *, again: bool
    ) -> tuple[str, bool, style.StyleProfile | None]:
        """Let the mood, memory and style take ``msg`` in (once); returns (memory hint, consented, profile)."""
        if again:
            consented = False
            if self.memory is not None:
                consented = bool(await asyncio.to_thread(self.memory.has_consent, msg.author_id))
            return self._standing_hint(decision, consented), consented, self.styles.get(msg.author_id)
        self._feel(msg, decision, now)
        memory_hint, consented = await self._observe_memory(msg, decision, now)
        profile = await self.styles.observe(msg.author_id, decision.route.text, consented=consented)
        return memory_hint, consented, profile

    def _standing_hint(self, decision: Decision, consented: bool) -> str:
        """The memory hint a question about memory gets without the store observing the message again."""
        if decision.route.intent != "memory":
            return ""
        if self.memory is None:
            return prompt.NO_MEMORY
        return "" if consented else prompt.NO_CONSENT

    def _stats_of(self, channel_id: str) -> GenerationStats | None:
        """The engine's running generation, when it is this channel's."""
        stats = getattr(self.engine, "last_stats", None)  # test engines may keep no figures
        return stats if isinstance(stats, GenerationStats) and stats.conversation == channel_id else None

    def _keep_finish(self, channel_id: str, stats: GenerationStats | None) -> None:
        self._finished[channel_id] = stats.finish_reason if stats is not None else ""
        while len(self._finished) > DECISIONS_KEPT:
            self._finished.popitem(last=False)

    def _memory_at(self, msg: IncomingMessage) -> bool:
        """Whether sel.toml leaves memory on where ``msg`` was posted (there, SEL neither stores nor recalls)."""
        return self.owner.place(msg.guild_id, msg.channel_id).memory is not False

    def _feel(self, msg: IncomingMessage, decision: Decision, now: float) -> None:
        events = idle_events(now, self._last_activity, self._unanswered_since)
        events += message_events(decision.route.text, addressed=decision.priority.addressed)
        self._apply(events, now)
        self._last_activity = now
        self._unanswered_since = None

    def _apply(self, events: Sequence[str], now: float) -> None:
        state = decay(self._hormones, now, self.tz)
        for event in events:
            state = apply_event(state, event, now, self.tz)
            if event == "ignored":
                self._unanswered_since = None
            elif event == "long_silence":
                self._last_activity = now
        self._hormones = state

    async def _observe_memory(self, msg: IncomingMessage, decision: Decision, now: float) -> tuple[str, bool]:
        """Let the memory store see the message (consent phrases, facts); returns (hint, consented)."""
        intent = decision.route.intent
        if self.memory is None or not self._memory_at(msg):
            return (prompt.NO_MEMORY if intent == "memory" else ""), False
        result = await asyncio.to_thread(
            self.memory.observe,
            msg.author_id,
            decision.route.text,
            tags=(intent,),
            now=now,
            where=place_of(msg),
            channel=msg.channel_id,  # the author's own turn is kept as an episode of this conversation
        )
        if result.consent_changed is False:
            self.styles.forget(msg.author_id)
        consented = bool(await asyncio.to_thread(self.memory.has_consent, msg.author_id))
        hint = result.reply_hint
        if not hint and intent == "memory" and not consented:
            hint = prompt.NO_CONSENT
        return hint, consented

    async def _recall(
        self, msg: IncomingMessage, decision: Decision, consented: bool, now: float
    ) -> Sequence[RecalledLike]:
        """The author's own memories relevant to the message — never anyone else's."""
        text = decision.route.text
        if self.memory is None or not consented or not self._memory_at(msg):
            return ()
        if len(text.split()) < RECALL_MIN_WORDS and decision.route.intent != "memory":
            return ()
        return await asyncio.to_thread(
            self.memory.recall,
            msg.author_id,
            text,
            k=self.settings.recall_k,
            now=now,
            where=place_of(msg),  # a DM's memories never come back in a server, nor one server's in another
            neighbours=RECALL_NEIGHBOURS,
        )

    def _history_before(self, msg: IncomingMessage, history: Sequence[Turn], text: str) -> Sequence[Turn]:
        if history and not history[-1].from_sel and history[-1].text.strip() in (msg.text.strip(), text.strip()):
            return history[:-1]
        return history

    async def _after_reply(self, msg: IncomingMessage, reply: str, tone: str | None, consented: bool) -> None:
        end = self.clock()
        self.replies += 1
        self._replied_at[(msg.channel_id, msg.author_id)] = end
        if len(self._replied_at) > REPLIED_AT_LIMIT:
            self._replied_at = {k: t for k, t in self._replied_at.items() if end - t <= CONVERSATION_WINDOW}
        # "Ignored" means SEL asked something and nobody answered, not that a chat ended naturally.
        self._unanswered_since = end if "?" in reply else None
        if tone is not None and reply.strip():
            self._remember_note(msg.channel_id, reply.strip(), tone)
        await asyncio.to_thread(self._save_hormones)
        await self.styles.persist(msg.author_id, consented=consented)

    def _keep_decision(self, channel: str, decision: Decision) -> None:
        self._last_decisions.pop(channel, None)
        self._last_decisions[channel] = decision
        while len(self._last_decisions) > DECISIONS_KEPT:
            self._last_decisions.popitem(last=False)

    def _remember_note(self, channel: str, reply: str, tone: str) -> None:
        notes = self._notes.pop(channel, None) or OrderedDict()
        notes[reply] = tone
        while len(notes) > NOTES_PER_CONVERSATION:
            notes.popitem(last=False)
        self._notes[channel] = notes
        while len(self._notes) > CONVERSATIONS_WITH_NOTES:
            self._notes.popitem(last=False)

    def _save_hormones(self) -> None:
        try:
            self._store.save(self._hormones)
        except OSError as err:
            # The mood is worth keeping but not worth failing a reply over.
            log.warning("could not save the hormone state to %s: %s", self._store.path, err)


async def _restyled(
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


def unseen_episodes(
    memories: Sequence[RecalledLike], msg: IncomingMessage, decision: Decision, history: Sequence[Turn]
) -> tuple[RecalledLike, ...]:
    """``memories`` without the person's earlier turns the prompt already shows: this message (kept as an
    episode before recall runs) and the turns still in the conversation history. Repeating them would say
    the same thing twice and change the prompt's start every turn, costing the model its warm cache."""
    in_view = {_words(msg.text), _words(decision.route.text)} | {_words(t.text) for t in history if not t.from_sel}
    return tuple(m for m in memories if m.kind != "episode" or _words(m.text) not in in_view)


def _words(text: str) -> str:
    return " ".join(text.casefold().split())
