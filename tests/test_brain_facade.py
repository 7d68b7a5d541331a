"""The Brain facade: decide, listen, respond, commands — with a scripted engine and memory.

The engine and the memory store here are small scripted stand-ins that record what the
brain asked of them, for the brain's own rules (who is asked to recall, which notes carry
memories). The memory behaviours themselves (consent, facts, recall, erasing, style kept
across a restart) are checked against the real MemoryStore in tests/test_brain_memory.py,
and the real engine in tests/test_terminal_brain.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from sel.brain import Brain
from sel.brain.prompt import NO_CONSENT, NO_MEMORY
from sel.config import load_settings
from sel.domain import AttachmentInfo, IncomingMessage, PromptPlan, Turn
from sel.errors import InputError

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Call:
    slot: str
    plan: PromptPlan
    conversation: str
    max_tokens: int | None


class ScriptedEngine:
    """Yields a fixed reply in small chunks and records every request."""

    def __init__(self, reply: str = "Sure Thing! Here You Go.") -> None:
        self.reply = reply
        self.calls: list[Call] = []

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        self.calls.append(Call(slot, plan, conversation, max_tokens))
        for i in range(0, len(self.reply), 3):
            yield self.reply[i : i + 3]


@dataclass
class Observed:
    consent_changed: bool | None = None
    reply_hint: str = ""


@dataclass
class Fact:
    text: str
    score: float = 0.5
    tags: tuple[str, ...] = ()
    hard: bool = True
    kind: str = "fact"
    said_at: float | None = None


@dataclass
class ScriptedMemory:
    """Consent by one phrase, facts by "my ... is ..." sentences, recall by shared words; records calls.

    Deliberately crude: it only lets the tests see what the brain asks of a memory store.
    """

    consent: set[str] = field(default_factory=set)
    facts: dict[str, list[str]] = field(default_factory=dict)
    profiles: dict[tuple[str, str], dict] = field(default_factory=dict)
    recalls: list[str] = field(default_factory=list)

    def has_consent(self, user_id: str) -> bool:
        return user_id in self.consent

    def observe(
        self,
        user_id: str,
        text: str,
        *,
        tags: Sequence[str] = (),
        now: float | None = None,
        where: str | None = None,
        channel: str | None = None,
    ) -> Observed:
        if "you can remember things about me" in text:
            self.consent.add(user_id)
            return Observed(True, "consent granted")
        if "stop remembering" in text:
            self.forget(user_id)
            return Observed(False, "consent withdrawn")
        if user_id in self.consent and re.search(r"\bmy \w+('s)? .* is\b", text):
            self.facts.setdefault(user_id, []).append(text)
        return Observed()

    def recall(
        self,
        user_id: str,
        query: str,
        *,
        k: int = 5,
        now: float | None = None,
        where: str | None = None,
        neighbours: int = 0,
    ) -> list[Fact]:
        self.recalls.append(user_id)
        words = set(re.findall(r"\w+", query.lower())) - {"my", "is", "what", "s", "the"}
        hits = [f for f in self.facts.get(user_id, []) if words & set(re.findall(r"\w+", f.lower()))]
        return [Fact(text) for text in hits[:k]]

    def get_profile(self, user_id: str, kind: str) -> dict | None:
        return self.profiles.get((user_id, kind))

    def put_profile(self, user_id: str, kind: str, data: dict) -> bool:
        if user_id not in self.consent:
            return False
        self.profiles[(user_id, kind)] = dict(data)
        return True

    def forget(self, user_id: str) -> None:
        self.consent.discard(user_id)
        self.facts.pop(user_id, None)
        for key in [key for key in self.profiles if key[0] == user_id]:
            del self.profiles[key]


def message(text: str, author: str = "ana", **kw: Any) -> IncomingMessage:
    kw.setdefault("mentioned", True)
    ids = {"ana": "1", "bo": "2"}
    return IncomingMessage(author_id=ids[author], author_name=author, channel_id="chan", text=text, **kw)


@pytest.fixture
def settings(tmp_path):
    return load_settings({"SEL_DATA_DIR": str(tmp_path / "data"), "SEL_MAX_NEW_TOKENS": "100"})


def make_brain(settings, engine=None, memory=None, clock=None) -> Brain:
    return Brain(settings, engine or ScriptedEngine(), memory, clock or Clock(), tz=UTC)


async def say(brain: Brain, msg: IncomingMessage, history: Sequence[Turn] = ()) -> str:
    decision = brain.decide(msg)
    if decision.silent:
        await brain.listen(msg, decision)
        return ""
    return "".join([chunk async for chunk in brain.respond(msg, history, decision)])


async def test_code_question_goes_to_the_coder_with_a_bigger_budget(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    await say(brain, message("code: why does my loop never end"))
    (call,) = engine.calls
    assert call.slot == "coder"
    assert call.conversation == "chan"
    assert call.max_tokens == 200, "coder gets at least twice SEL_MAX_NEW_TOKENS"
    assert call.plan.turns[-1] == Turn("ana", "why does my loop never end"), "the code: prefix is stripped"
    assert "programming question" in call.plan.late_note


async def test_chit_chat_goes_to_the_general_model(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    await say(brain, message("how was your day?"))
    assert [c.slot for c in engine.calls] == ["general"]
    assert engine.calls[0].max_tokens == 100


async def test_silent_chatter_never_reaches_the_model_but_teaches_style(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    for text in ("lol", "ok", "lmao same", "brb"):
        assert await say(brain, message(text, mentioned=False)) == ""
    assert engine.calls == []
    assert brain.silenced == 4
    assert brain.styles.get("1").messages == 4
    assert "reply: none" in brain.why()


async def test_reply_mirrors_a_lowercase_writer_without_touching_code(settings):
    engine = ScriptedEngine("Sure! Try This:\n```Py\nX = Foo()\n```\nSee https://Docs.Python.org/3/ Okay?")
    brain = make_brain(settings, engine)
    for text in ("hey sel whats up", "lol nice", "ok cool"):
        await say(brain, message(text))
    reply = await say(brain, message("how do i write a function in python"))
    assert reply == "sure! try this:\n```Py\nX = Foo()\n```\nsee https://Docs.Python.org/3/ okay?"
    assert "write in all lowercase" in engine.calls[-1].plan.late_note


async def test_image_without_vision_model_gets_the_canned_reply_and_no_model_call(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    msg = message("what bird is this", attachments=(AttachmentInfo("bird.jpg", "image/jpeg", 2000),))
    reply = await say(brain, msg)
    assert "can't see images" in reply
    assert engine.calls == []
    assert brain.replies == 1


async def test_praise_cheers_sel_up_and_the_mood_survives_a_restart(settings):
    clock = Clock()
    brain = make_brain(settings, clock=clock)
    assert brain.status()["mood"] == "calm"
    for _ in range(3):
        clock.now += 5
        await say(brain, message("thank you sel, you're the best"))
    assert brain.status()["mood"] == "cheerful"
    assert brain.mood_report().startswith("mood: cheerful")
    restarted = make_brain(settings, clock=clock)
    assert restarted.hormones == brain.hormones
    assert restarted.status()["mood"] == "cheerful"


async def test_hostility_shows_in_the_next_prompt_tone(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    for _ in range(3):
        await say(brain, message("shut up sel you're useless"))
    assert "SEL feels tense" in engine.calls[-1].plan.late_note


async def test_recalled_memories_reach_only_their_owners_reply(settings):
    engine = ScriptedEngine("Noted.")
    memory = ScriptedMemory()
    brain = make_brain(settings, engine, memory)
    await say(brain, message("you can remember things about me"))
    await say(brain, message("my sister's name is Ana"))
    await say(brain, message("what's my sister's name?", author="bo"))
    bo_plan = engine.calls[-1].plan
    assert "Ana" not in bo_plan.late_note
    assert "2" not in memory.recalls, "bo has not opted in: nothing is recalled for bo"
    await say(brain, message("what's my sister's name?"))
    ana_plan = engine.calls[-1].plan
    assert "What SEL remembers about ana: my sister's name is Ana" in ana_plan.late_note
    assert set(memory.recalls) == {"1"}, f"recall was asked for {memory.recalls}"
    for turn in ana_plan.turns:
        assert "What SEL remembers" not in turn.note


async def test_memories_never_leak_into_the_notes_of_history(settings):
    engine = ScriptedEngine("Her name is Ana.")
    memory = ScriptedMemory(consent={"1"}, facts={"1": ["my sister's name is Ana"]})
    brain = make_brain(settings, engine, memory)
    reply = await say(brain, message("what's my sister's name?"))
    history = [Turn("ana", "what's my sister's name?"), Turn("SEL", reply, from_sel=True)]
    await say(brain, message("thanks!", author="bo"), history)
    plan = engine.calls[-1].plan
    sel_turn = plan.turns[1]
    assert sel_turn.note.startswith("SEL feels"), "SEL's turn keeps its tone line"
    assert "Ana" not in sel_turn.note and "remembers" not in sel_turn.note
    assert "Ana" not in plan.late_note


async def test_style_profile_is_stored_only_with_consent_and_dropped_by_forget(settings):
    memory = ScriptedMemory()
    brain = make_brain(settings, ScriptedEngine(), memory)
    await say(brain, message("hey there sel"))
    assert memory.profiles == {}, "no consent: the profile lives in RAM only"
    assert brain.styles.get("1") is not None
    await say(brain, message("you can remember things about me"))
    assert ("1", "style") in memory.profiles
    await brain.forget("1")
    assert memory.profiles == {}
    assert brain.styles.get("1") is None


async def test_memory_request_without_a_memory_store_is_explained(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    await say(brain, message("remember my sister's name is Ana"))
    assert NO_MEMORY in engine.calls[-1].plan.late_note


async def test_memory_request_without_consent_says_how_to_opt_in(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine, ScriptedMemory())
    await say(brain, message("remember my sister's name is Ana"))
    assert NO_CONSENT in engine.calls[-1].plan.late_note


async def test_history_that_already_ends_with_the_message_is_not_doubled(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    msg = message("code: what is a monad")
    await say(brain, msg, [Turn("bo", "hi"), Turn("ana", "code: what is a monad")])
    assert [t.text for t in engine.calls[-1].plan.turns] == ["hi", "what is a monad"]


async def test_closing_the_stream_early_records_no_reply(settings):
    brain = make_brain(settings, ScriptedEngine("one two three four five six"))
    msg = message("tell me a story")
    stream = brain.respond(msg, (), brain.decide(msg))
    assert await anext(stream)
    await stream.aclose()
    assert brain.replies == 0


async def test_mode_switch_changes_persona_and_threshold(settings):
    engine = ScriptedEngine()
    brain = make_brain(settings, engine)
    question = message("anyone know a good dentist in berlin?", mentioned=False)
    assert not brain.decide(question).silent
    brain.set_mode("quiet_companion")
    assert brain.decide(question).silent
    await say(brain, message("hi sel"))
    assert "quiet companion" in engine.calls[-1].plan.persona
    with pytest.raises(InputError, match="casual, deep_focus, playful, quiet_companion"):
        brain.set_mode("chaos")
    assert brain.mode.name == "quiet_companion"


async def test_being_ignored_and_long_silence_affect_the_mood(settings):
    clock = Clock()
    brain = make_brain(settings, ScriptedEngine("Hi! How was your weekend?"), clock=clock)
    await say(brain, message("hi sel"))
    dopamine = brain.hormones.levels["dopamine"]
    clock.now += 20 * 60
    assert brain.tick() == ["ignored"]
    assert brain.hormones.levels["dopamine"] < dopamine
    assert brain.tick() == [], "being ignored counts once"
    clock.now += 5 * 3600
    assert brain.tick() == ["long_silence"]


async def test_a_reply_without_a_question_is_not_ignored(settings):
    clock = Clock()
    brain = make_brain(settings, ScriptedEngine("You're welcome."), clock=clock)
    await say(brain, message("thanks sel"))
    clock.now += 20 * 60
    assert brain.tick() == []


def test_why_explains_only_the_last_message_in_the_asking_channel(settings):
    brain = make_brain(settings)
    private_file = AttachmentInfo("bo_medical_history.log", "text/plain", 9000)
    brain.decide(IncomingMessage("2", "bo", "dm-bo", "can you read this", attachments=(private_file,), is_dm=True))
    brain.decide(message("how was your day?"))
    in_channel = brain.why("chan")
    assert in_channel.startswith("route: general"), in_channel
    assert "medical" not in in_channel, f"/why in a channel explained someone else's DM:\n{in_channel}"
    assert "bo_medical_history.log" in brain.why("dm-bo"), "the DM's own /why still explains the DM"
    assert brain.why("another-channel") == "no message decided in this channel yet"
    assert brain.why() == in_channel, "without a channel, /why explains the last message decided anywhere"
    assert "last" not in brain.status(), "status is shown in any channel, so it must not describe one channel's message"


def test_why_forgets_the_least_recently_active_channels(settings, monkeypatch):
    monkeypatch.setattr("sel.brain.recent_channels.DECISIONS_KEPT", 3)
    brain = make_brain(settings)
    for channel in ("a", "b", "c"):
        brain.decide(IncomingMessage("1", "ana", channel, "hello there sel"))
    brain.decide(IncomingMessage("1", "ana", "a", "hello again sel"))  # "a" is active again, so "b" is oldest
    brain.decide(IncomingMessage("1", "ana", "d", "hi sel"))
    assert brain.why("b") == "no message decided in this channel yet"
    assert all(brain.why(channel).startswith("route:") for channel in ("a", "c", "d"))


def test_status_and_why_before_any_message(settings):
    brain = make_brain(settings)
    assert brain.why() == "no message decided yet"
    status = brain.status()
    assert status["mode"] == "casual" and status["memory"] is False
    assert set(status["hormones"]) == {
        "dopamine",
        "serotonin",
        "adrenaline",
        "cortisol",
        "melatonin",
        "estrogen",
        "testosterone",
    }
