"""The brain and a model that reasons before it answers, on a scripted tiny GGUF through the real llama.cpp.

The model always writes ``<think>…</think>`` and then its answer. The reasoning reaches the frontend as
an untouched Thought only when the owner asked for it (SEL_SHOW_REASONING=spoiler); it is never part of
the reply's text, nor of what SEL keeps about the reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest

from sel.app import App, open_app
from sel.brain.stimuli import IGNORED_AFTER
from sel.config import Settings
from sel.domain import IncomingMessage, Thought
from tests.gguf_scripted import write_scripted_llama

REASONING = "Is Ana OK? Be Brief 🎉"  # one token: under 32 bytes
SCRIPT = ["<think>", REASONING, "</think>", "\n\n", "Hello Ana", " friend"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def open_thinker(make_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., AsyncIterator[App]]:
    thinker = write_scripted_llama(tmp_path / "thinker.gguf", SCRIPT, name="thinker")

    async def start(clock: Clock, **env: str) -> App:
        settings = make_settings(SEL_GENERAL_MODEL=str(thinker), SEL_TEMPERATURE="0", SEL_MAX_NEW_TOKENS="24", **env)
        return await asyncio.to_thread(open_app, settings, with_memory=False, clock=clock)

    return start  # type: ignore[return-value]


def dm(text: str) -> IncomingMessage:
    return IncomingMessage("1001", "ana", "dm-1001", text, is_dm=True)


async def reply_items(app: App, text: str) -> list[str | Thought]:
    msg = dm(text)
    decision = app.brain.decide(msg)
    assert not decision.silent and decision.slot == "general", decision.explain()
    return [item async for item in app.brain.respond(msg, (), decision)]


async def test_by_default_the_reasoning_is_dropped_and_only_the_answer_comes_through(open_thinker) -> None:
    app = await open_thinker(Clock())
    try:
        items = await reply_items(app, "hey SEL, how are you doing today?")
    finally:
        await app.aclose()
    assert all(isinstance(item, str) for item in items), f"a Thought reached the frontend in hide mode: {items}"
    assert "".join(items).strip() == "Hello Ana friend"


async def test_in_spoiler_mode_the_reasoning_comes_first_untouched_and_stays_out_of_the_reply(open_thinker) -> None:
    clock = Clock()
    app = await open_thinker(clock, SEL_SHOW_REASONING="spoiler")
    try:
        for text in ("hey sel", "nice weather here", "what a day"):  # Ana writes in lowercase, without emoji
            msg = dm(text)
            await app.brain.listen(msg, app.brain.decide(msg))
        items = await reply_items(app, "hey sel how are you doing today")
        # Long after the reply: SEL asked nothing (the question was in its reasoning), so nobody ignored it.
        clock.now += IGNORED_AFTER + 60
        events = app.brain.tick()
    finally:
        await app.aclose()
    thoughts = [item for item in items if isinstance(item, Thought)]
    assert thoughts == [Thought(REASONING)], "the reasoning comes through whole, not lowercased or trimmed of emoji"
    assert items.index(thoughts[0]) == 0, f"the reasoning comes before the answer: {items}"
    reply = "".join(item for item in items if isinstance(item, str))
    assert reply.strip() == "hello ana friend", "the answer alone is restyled for Ana (lowercase)"
    assert "ignored" not in events, "a question in the reasoning was taken for a question SEL asked"
