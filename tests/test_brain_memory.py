"""The brain with the real memory store (fastembed + hnswlib) and the real engine on tiny models.

The engine is wrapped only to keep a copy of each PromptPlan it is given.
"""

from __future__ import annotations

import pytest

from sel.brain import Brain
from sel.domain import IncomingMessage, PromptPlan
from sel.llm.engine import Engine
from sel.memory.export import export_user
from sel.memory.observe import CONSENT_GIVEN_HINT, CONSENT_WITHDRAWN_HINT, FORGOTTEN_HINT, NOT_OPTED_IN_HINT
from sel.memory.store import MemoryStore


class RecordingEngine:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.plans: list[PromptPlan] = []

    def stream(self, slot: str, plan: PromptPlan, **kw):
        self.plans.append(plan)
        return self.engine.stream(slot, plan, **kw)


@pytest.fixture
async def parts(make_settings):
    settings = make_settings()
    engine = RecordingEngine(Engine(settings))
    memory = MemoryStore.open(settings.data_dir, settings.embed_model)
    brain = Brain(settings, engine, memory)
    yield brain, engine, memory
    engine.engine.close()
    memory.close()


def message(author: str, text: str) -> IncomingMessage:
    return IncomingMessage(
        author_id=f"id-{author}", author_name=author, channel_id="general", text=text, mentioned=True
    )


async def say(brain: Brain, msg: IncomingMessage) -> str:
    decision = brain.decide(msg)
    return "".join([chunk async for chunk in brain.respond(msg, (), decision)])


async def test_memories_reach_only_the_reply_to_their_owner(parts):
    brain, engine, memory = parts
    await say(brain, message("mia", "you can remember stuff about me"))
    assert memory.has_consent("id-mia")
    await say(brain, message("mia", "my sister's name is Ana"))
    await say(brain, message("bo", "what's my sister's name?"))
    assert "Ana" not in engine.plans[-1].late_note, "bo must not be told mia's memories"
    await say(brain, message("mia", "what's my sister's name?"))
    plan = engine.plans[-1]
    assert "What SEL remembers about mia:" in plan.late_note and "Ana" in plan.late_note
    assert "Ana" not in plan.persona
    assert all("Ana" not in turn.note for turn in plan.turns)


async def test_style_profile_is_stored_only_for_users_who_opted_in(parts):
    brain, _, memory = parts
    await say(brain, message("bo", "hey sel whats up"))
    await say(brain, message("mia", "you can remember stuff about me"))
    await say(brain, message("mia", "lol ok cool"))
    assert memory.get_profile("id-mia", "style")["messages"] == 2
    assert memory.get_profile("id-bo", "style") is None
    await brain.forget("id-mia")
    assert memory.get_profile("id-mia", "style") is None
    assert brain.styles.get("id-mia") is None


async def test_asking_to_remember_without_consent_explains_the_opt_in(parts):
    brain, engine, memory = parts
    await say(brain, message("bo", "remember that my dog is called Rex"))
    assert NOT_OPTED_IN_HINT in engine.plans[-1].late_note
    assert memory.recall("id-bo", "dog") == []


LOWERCASE_CHAT = ("hey whats up", "lol yeah i saw that", "ok but like why tho", "brb getting food")


async def test_an_opted_in_users_style_survives_a_restart_and_nobody_elses_does(make_settings):
    settings = make_settings()
    engine = RecordingEngine(Engine(settings))
    memory = MemoryStore.open(settings.data_dir, settings.embed_model)
    try:
        brain = Brain(settings, engine, memory)
        await say(brain, message("mia", "you can remember stuff about me"))
        for text in LOWERCASE_CHAT:
            await say(brain, message("mia", text))
            await say(brain, message("bo", text))
        learned = brain.styles.get("id-mia")
        assert learned.trusted and learned.lowercase > 0.7

        memory.close()  # a restart: a new store reads the log, a new brain starts with no profiles in RAM
        memory = MemoryStore.open(settings.data_dir, settings.embed_model)
        restarted = Brain(settings, engine, memory)
        assert restarted.styles.get("id-mia") is None
        await say(restarted, message("mia", "so whats new"))
        assert "write in all lowercase" in engine.plans[-1].late_note, "mia's stored style did not come back"
        assert restarted.styles.get("id-mia").messages == learned.messages + 1
        await say(restarted, message("bo", "so whats new"))
        assert "lowercase" not in engine.plans[-1].late_note, "bo never opted in: his style must not be kept"
        assert restarted.styles.get("id-bo").messages == 1
    finally:
        engine.engine.close()
        memory.close()


def stored_texts(memory: MemoryStore, user_id: str) -> list[str]:
    return [m["text"] for m in export_user(memory, user_id)["memories"]]


async def test_consent_in_the_users_own_words_lets_facts_be_stored(parts):
    brain, engine, memory = parts
    await say(brain, message("mia", "my sister's name is Ana"))
    assert stored_texts(memory, "id-mia") == [], "nothing is stored before consent"
    await say(brain, message("mia", "sure, remember things about me"))
    assert memory.has_consent("id-mia")
    assert CONSENT_GIVEN_HINT in engine.plans[-1].late_note, "SEL is told to acknowledge the consent"
    await say(brain, message("mia", "my sister's name is Ana"))
    assert stored_texts(memory, "id-mia") == ["My sister's name is Ana"]
    await say(brain, message("bo", "if you can remember things about me that would be creepy"))
    assert not memory.has_consent("id-bo"), "a conditional is not consent"


async def test_withdrawing_consent_stops_storing_and_recall_and_drops_the_session_style(parts):
    brain, engine, memory = parts
    await say(brain, message("mia", "you can remember stuff about me"))
    await say(brain, message("mia", "my sister's name is Ana"))
    assert brain.styles.get("id-mia") is not None
    await say(brain, message("mia", "could you stop remembering things about me?"))
    assert not memory.has_consent("id-mia")
    assert CONSENT_WITHDRAWN_HINT in engine.plans[-1].late_note
    assert brain.styles.get("id-mia").messages == 1, "the style learned under consent is dropped, not carried on"
    await say(brain, message("mia", "my dog is called Rex"))
    assert stored_texts(memory, "id-mia") == ["My sister's name is Ana"], "nothing new is stored after withdrawal"
    await say(brain, message("mia", "what's my sister's name?"))
    assert "Ana" not in engine.plans[-1].late_note, "a user who withdrew is not reminded of what is stored"


async def test_asking_to_be_forgotten_erases_everything_for_good(parts, make_settings):
    brain, engine, memory = parts
    await say(brain, message("mia", "you can remember stuff about me"))
    await say(brain, message("mia", "my sister's name is Ana"))
    await say(brain, message("mia", "lol ok cool"))
    await say(brain, message("bo", "you can remember stuff about me"))
    await say(brain, message("bo", "my brother's name is Tom"))
    await say(brain, message("mia", "please forget everything you know about me"))
    assert FORGOTTEN_HINT in engine.plans[-1].late_note
    exported = export_user(memory, "id-mia")
    assert (exported["consent"], exported["memories"], exported["profiles"]) == (False, [], {})
    assert brain.styles.get("id-mia").messages == 1, "only the erase request itself is in RAM, unstored"
    assert stored_texts(memory, "id-bo") == ["My brother's name is Tom"], "only mia is forgotten"
    settings = make_settings()
    memory.close()
    with MemoryStore.open(settings.data_dir, settings.embed_model) as reopened:
        assert export_user(reopened, "id-mia")["memories"] == [] and not reopened.has_consent("id-mia")
        assert b"Ana" not in (settings.data_dir / "memory" / "journal.jsonl").read_bytes()
