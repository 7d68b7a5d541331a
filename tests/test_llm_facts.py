"""LLM-assisted fact extraction: parsing, and from a model's real answer to the memory store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sel.app import open_app
from sel.domain import IncomingMessage, Turn
from sel.llm.facts import parse_facts
from sel.memory.extraction import extract_facts
from tests.gguf_scripted import write_scripted_llama


def test_bullets_are_parsed_until_the_list_ends() -> None:
    assert parse_facts("I am a nurse\n- My turtle is called Shelly\nSo anyway") == [
        "I am a nurse",
        "My turtle is called Shelly",
    ]
    assert parse_facts("none") == []
    assert parse_facts("I like a\n- I like b\n- I like c\n- I like d") == ["I like a", "I like b", "I like c"]


def test_only_facts_about_the_speaker_are_kept() -> None:
    completion = "My sister is called Ana\n- Ana is a nurse\n- Her husband likes fishing\n- People call me Jo"
    assert parse_facts(completion) == ["My sister is called Ana", "People call me Jo"]


# What a model answers to the extraction prompt (after its "Facts:\n- "): one fact of the
# speaker's, someone else's fact, a secret, a "none", the end of the list, and rambling on.
SCRIPT = [
    "I grow tomatoes on my balcony",
    "\n- Bob is a nurse",
    "\n- my bank pin is 4821",
    "\n- none",
    "\nAnyway, what a lovely day",
    "\n- I am secretly a pirate",
]
# Nothing here is a fact the rule-based extractor keeps, so whatever is stored came from the model.
MESSAGE = "Ever since I moved here, tomatoes on the balcony keep me sane. My bank pin is 4821. Bob works nights."


@pytest.fixture
def scripted_model(tmp_path) -> Path:
    return write_scripted_llama(tmp_path / "scripted.gguf", SCRIPT)


async def test_the_models_answer_becomes_the_speakers_facts_and_nothing_else(make_settings, scripted_model) -> None:
    assert extract_facts(MESSAGE) == []
    settings = make_settings(SEL_MEMORY_LLM_EXTRACTION="1", SEL_GENERAL_MODEL=str(scripted_model))
    app = await asyncio.to_thread(open_app, settings)
    try:
        app.memory_store.set_consent("1001", True)
        msg = IncomingMessage("1001", "ana", "dm-1001", MESSAGE, is_dm=True)
        await app.brain.listen(msg, app.brain.decide(msg))

        def evaluated(llm) -> str:  # the tokens the model was last given, as text
            return llm.detokenize(llm.input_ids[: llm.n_tokens].tolist()).decode("utf-8", errors="replace")

        seen = await asyncio.to_thread(app.engine.run_blocking, evaluated, None)
        assert "Message: Ever since I moved here, tomatoes on the balcony keep me sane. Bob works nights." in seen
        assert "4821" not in seen.split("Facts:")[0], "the secret sentence was shown to the model"
        assert seen.split("Facts:\n- ")[1].startswith("I grow tomatoes"), "the extraction did not run on this prompt"
        memories = (await app.export("1001"))["memories"]
        stored = [m["text"] for m in memories if m["kind"] == "fact"]
        # ana's own turn is kept as her episode, without its secret; the facts are what the model found in it
        assert [m["text"] for m in memories if m["kind"] == "episode"] == [MESSAGE.replace(" My bank pin is 4821.", "")]
        assert not any("4821" in m["text"] for m in memories), "a secret was stored"
        # Bob's fact is his to share, the PIN is a secret, "none" is no fact, and the list ended before the pirate.
        assert stored == ["I grow tomatoes on my balcony"]
    finally:
        await app.aclose()


async def test_no_model_call_for_someone_who_has_not_opted_in(make_settings, scripted_model) -> None:
    settings = make_settings(SEL_MEMORY_LLM_EXTRACTION="1", SEL_GENERAL_MODEL=str(scripted_model))
    app = await asyncio.to_thread(open_app, settings)
    try:
        msg = IncomingMessage("1002", "bo", "dm-1002", MESSAGE, is_dm=True)
        await app.brain.listen(msg, app.brain.decide(msg))
        assert app.engine.status()["loaded"] == [], "the model read a message of someone who did not opt in"
        assert (await app.export("1002"))["memories"] == []
    finally:
        await app.aclose()


async def test_extraction_is_off_by_default(make_settings) -> None:
    app = await asyncio.to_thread(open_app, make_settings())
    try:
        app.memory_store.set_consent("u1", True)
        msg = IncomingMessage("u1", "ana", "dm-u1", "hey there, how are things going today", is_dm=True)
        await app.brain.listen(msg, app.brain.decide(msg))
        assert app.engine.status()["loaded"] == [], "no model call for a message SEL stays silent on"
    finally:
        await app.aclose()


async def test_extraction_does_not_cost_the_conversation_its_warm_cache(make_settings) -> None:
    app = await asyncio.to_thread(open_app, make_settings(SEL_MEMORY_LLM_EXTRACTION="1"))
    try:
        app.memory_store.set_consent("u1", True)
        history: list = []
        prompts = []
        for text in ("hello there, how are things going today", "tell me more about your day please"):
            msg = IncomingMessage("u1", "ana", "dm-u1", text, is_dm=True)
            reply = "".join([c async for c in app.brain.respond(msg, tuple(history), app.brain.decide(msg))])
            history += [Turn("ana", text), Turn("SEL", reply, from_sel=True)]
            prompts.append(app.engine.last_stats.prompt_tokens)
        stats = app.engine.last_stats
        assert stats.restored_snapshot, "the conversation's KV state was not brought back after the extraction"
        new_tokens = prompts[1] - prompts[0]
        assert stats.prefilled_tokens <= new_tokens + 40, (
            f"the follow-up pre-filled {stats.prefilled_tokens} of {stats.prompt_tokens} tokens; ~{new_tokens} are new"
        )
    finally:
        await app.aclose()
