"""The brain with the real memory store (fastembed + hnswlib) and the real engine on tiny models.

The engine is wrapped only to keep a copy of each PromptPlan it is given.
"""

from __future__ import annotations

import pytest

from sel.brain import Brain, IncomingMessage
from sel.llm.engine import Engine
from sel.llm.prompt import PromptPlan
from sel.memory.store import NOT_OPTED_IN_HINT, MemoryStore


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
