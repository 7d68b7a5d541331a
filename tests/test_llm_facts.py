"""LLM-assisted fact extraction: parsing, and the wiring from settings to the memory store."""

from __future__ import annotations

import asyncio

from sel.brain.message import IncomingMessage
from sel.llm.facts import parse_facts
from sel.llm.prompt import Turn
from sel.runtime import open_runtime


def test_bullets_are_parsed_until_the_list_ends() -> None:
    assert parse_facts("I am a nurse\n- My turtle is called Shelly\nSo anyway") == [
        "I am a nurse",
        "My turtle is called Shelly",
    ]
    assert parse_facts("none") == []
    assert parse_facts("a\n- b\n- c\n- d\n- e") == ["a", "b", "c"]


async def test_setting_turns_on_model_extraction_for_consenting_users(make_settings, tiny_models) -> None:
    settings = make_settings(SEL_MEMORY_LLM_EXTRACTION="1")
    runtime = await asyncio.to_thread(open_runtime, settings)
    try:
        calls_before = runtime.engine.status()["loaded"]
        assert calls_before == [], "nothing is loaded before the first message"
        runtime.memory.set_consent("u1", True)
        msg = IncomingMessage("u1", "ana", "dm-u1", "hey there, how are things going today", is_dm=True)
        await runtime.brain.listen(msg, runtime.brain.decide(msg))
        # The tiny model's words are not facts anyone said, but the extraction ran on the general model:
        assert runtime.engine.status()["loaded"] == [str(tiny_models.general)]
    finally:
        await runtime.aclose()


async def test_extraction_is_off_by_default(make_settings) -> None:
    runtime = await asyncio.to_thread(open_runtime, make_settings())
    try:
        runtime.memory.set_consent("u1", True)
        msg = IncomingMessage("u1", "ana", "dm-u1", "hey there, how are things going today", is_dm=True)
        await runtime.brain.listen(msg, runtime.brain.decide(msg))
        assert runtime.engine.status()["loaded"] == [], "no model call for a message SEL stays silent on"
    finally:
        await runtime.aclose()


async def test_extraction_does_not_cost_the_conversation_its_warm_cache(make_settings) -> None:
    runtime = await asyncio.to_thread(open_runtime, make_settings(SEL_MEMORY_LLM_EXTRACTION="1"))
    try:
        runtime.memory.set_consent("u1", True)
        history: list = []
        prompts = []
        for text in ("hello there, how are things going today", "tell me more about your day please"):
            msg = IncomingMessage("u1", "ana", "dm-u1", text, is_dm=True)
            reply = "".join([c async for c in runtime.brain.respond(msg, tuple(history), runtime.brain.decide(msg))])
            history += [Turn("ana", text), Turn("SEL", reply, from_sel=True)]
            prompts.append(runtime.engine.last_stats.prompt_tokens)
        stats = runtime.engine.last_stats
        assert stats.restored_snapshot, "the conversation's KV state was not brought back after the extraction"
        new_tokens = prompts[1] - prompts[0]
        assert stats.prefilled_tokens <= new_tokens + 40, (
            f"the follow-up pre-filled {stats.prefilled_tokens} of {stats.prompt_tokens} tokens; ~{new_tokens} are new"
        )
    finally:
        await runtime.aclose()
