"""The engine against real llama.cpp on tiny generated GGUF models."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest

from sel.domain import PromptPlan, Turn
from sel.errors import ModelError
from sel.llm.engine import Engine
from sel.llm.prompt import TranscriptFormat

PERSONA = "This is a chat log. SEL is a friendly companion."


def plan_for(*texts: str, sel_replies: tuple[str, ...] = ()) -> PromptPlan:
    turns: list[Turn] = []
    for i, text in enumerate(texts):
        turns.append(Turn("alice", text))
        if i < len(sel_replies):
            turns.append(Turn("SEL", sel_replies[i], from_sel=True))
    return PromptPlan(persona=PERSONA, turns=tuple(turns))


async def collect(engine: Engine, slot: str, plan: PromptPlan, conversation: str = "c1", **kw: int) -> list[str]:
    return [chunk async for chunk in engine.stream(slot, plan, conversation=conversation, **kw)]


async def test_stream_yields_text_chunks_and_records_stats(engine_factory) -> None:
    engine = engine_factory()
    chunks = await collect(engine, "general", plan_for("hello there"))
    assert len(chunks) >= 2, f"expected several streamed chunks, got {chunks!r}"
    assert "".join(chunks).strip(), "the reply is empty"
    stats = engine.last_stats
    assert stats is not None and stats.slot == "general"
    assert stats.completion_tokens == 12, "the tiny model never stops early, so max_new_tokens bounds the reply"
    assert stats.prompt_tokens > 0 and stats.prefilled_tokens == stats.prompt_tokens
    assert stats.tokens_per_second > 0


async def test_max_tokens_argument_overrides_the_setting(engine_factory) -> None:
    engine = engine_factory()
    await collect(engine, "general", plan_for("hello"), max_tokens=5)
    assert engine.last_stats.completion_tokens == 5


async def test_the_request_after_a_closed_stream_works_normally(engine_factory) -> None:
    engine = engine_factory()
    stream = engine.stream("general", plan_for("tell me a long story"), conversation="c1", max_tokens=400)
    received = 0
    async with contextlib.aclosing(stream):
        async for _ in stream:
            received += 1
            if received == 2:
                break
    after = await collect(engine, "general", plan_for("and now?"), conversation="c2")
    # last_stats is the second request now; the cancelled one was recorded before it.
    assert "".join(after).strip(), "the request after a cancellation must work normally"
    assert engine.last_stats.completion_tokens == 12


async def test_cancelling_the_consumer_stops_the_generation_within_a_token(engine_factory) -> None:
    engine = engine_factory()
    plan = plan_for("go on and on")
    await collect(engine, "general", plan, conversation="uncancelled", max_tokens=300)
    assert engine.last_stats.completion_tokens == 300, "uncancelled, the tiny model fills its whole budget"

    wanted = 3
    received: list[str] = []
    reached = asyncio.Event()

    async def consume() -> None:
        # Like Brain.respond: the stream is closed when the consuming task is cancelled mid-reply.
        stream = engine.stream("general", plan, conversation="cancelled", max_tokens=300)
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                received.append(chunk)
                if len(received) == wanted:
                    reached.set()
                    await asyncio.Event().wait()  # a slow consumer, cancelled while it holds the stream

    task = asyncio.create_task(consume())
    await reached.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    stats = engine.last_stats
    generated_when_cancelled = stats.completion_tokens
    # A trivial blocking task runs only after the worker has left the cancelled generation.
    await asyncio.to_thread(engine.run_blocking, lambda llm: None)
    assert len(received) == wanted, f"the consumer got {len(received)} chunks after stopping at {wanted}"
    assert stats.cancelled, "the generation was not marked cancelled"
    assert stats.completion_tokens - generated_when_cancelled <= 1, (
        f"the engine went on from {generated_when_cancelled} to {stats.completion_tokens} tokens after the cancel"
    )
    assert stats.completion_tokens < 300, "the cancelled request generated its whole budget anyway"


async def test_concurrent_requests_are_served_one_at_a_time_in_arrival_order(engine_factory) -> None:
    engine = engine_factory()
    events: list[tuple[str, int]] = []

    async def run(name: str) -> None:
        async for _ in engine.stream("general", plan_for(f"message from {name}"), conversation=name):
            events.append((name, len(events)))

    tasks = []
    for name in ("first", "second", "third"):
        tasks.append(asyncio.create_task(run(name)))
        await asyncio.sleep(0)  # submit in this order
    await asyncio.gather(*tasks)
    order = [name for name, _ in events]
    blocks = [name for i, name in enumerate(order) if i == 0 or order[i - 1] != name]
    assert blocks == ["first", "second", "third"], f"generations interleaved or out of order: {blocks}"


async def test_single_backend_swaps_models_and_keeps_one_resident(engine_factory, tiny_models) -> None:
    engine = engine_factory(SEL_SINGLE_BACKEND="1")
    await collect(engine, "general", plan_for("hi"))
    assert engine.last_stats.model_path == str(tiny_models.general)
    await collect(engine, "coder", plan_for("def f(): pass"))
    assert engine.last_stats.model_path == str(tiny_models.coder)
    assert engine.status()["loaded"] == [str(tiny_models.coder)]
    assert engine.swaps == 1
    await collect(engine, "general", plan_for("hi again"))
    assert engine.status()["loaded"] == [str(tiny_models.general)]
    assert engine.swaps == 2


async def test_single_backend_does_not_swap_when_both_slots_name_one_file(engine_factory, tiny_models) -> None:
    engine = engine_factory(SEL_SINGLE_BACKEND="1", SEL_CODER_MODEL=str(tiny_models.general))
    await collect(engine, "general", plan_for("hi"))
    await collect(engine, "coder", plan_for("def f(): pass"))
    assert engine.swaps == 0
    assert engine.status()["loaded"] == [str(tiny_models.general)]


async def test_dual_backend_keeps_both_models_resident(engine_factory, tiny_models) -> None:
    engine = engine_factory(SEL_SINGLE_BACKEND="0")
    await collect(engine, "general", plan_for("hi"))
    await collect(engine, "coder", plan_for("def f(): pass"))
    await collect(engine, "general", plan_for("hi again"))
    assert engine.swaps == 0
    assert sorted(engine.status()["loaded"]) == sorted([str(tiny_models.general), str(tiny_models.coder)])


async def test_follow_up_prefills_only_the_new_tokens(engine_factory) -> None:
    engine = engine_factory()
    history = tuple(f"this is message number {i} about the turtle and the blue moon" for i in range(12))
    replies = tuple("ok nice" for _ in range(11))
    await collect(engine, "general", plan_for(*history[:11], sel_replies=replies[:10]))
    reply = engine.last_stats
    first_prompt = reply.prompt_tokens
    assert reply.prefilled_tokens == first_prompt  # cold
    generated = "".join(await collect(engine, "general", plan_for(*history[:11], sel_replies=replies[:10])))
    del generated
    follow = plan_for(*history, sel_replies=replies)
    await collect(engine, "general", follow)
    stats = engine.last_stats
    new_tokens = stats.prompt_tokens - first_prompt
    assert stats.prefilled_tokens <= new_tokens + 40, (
        f"follow-up pre-filled {stats.prefilled_tokens} of {stats.prompt_tokens} tokens; only ~{new_tokens} are new"
    )


async def test_returning_to_a_conversation_restores_its_kv_cache(engine_factory) -> None:
    engine = engine_factory()
    a = tuple(f"alice says line {i} about cats and dogs and tea" for i in range(10))
    b = tuple(f"bob says line {i} about rust code and bugs" for i in range(10))
    await collect(engine, "general", plan_for(*a), conversation="A")
    cold = engine.last_stats.prefilled_tokens
    await collect(engine, "general", plan_for(*b), conversation="B")
    await collect(engine, "general", plan_for(*a, "and one more thing"), conversation="A")
    stats = engine.last_stats
    assert stats.restored_snapshot, "conversation A's KV state was not restored"
    assert stats.prefilled_tokens < cold / 4, (
        f"returning to A pre-filled {stats.prefilled_tokens} tokens (cold: {cold})"
    )


async def test_long_history_is_trimmed_in_chunks_not_one_message_per_turn(engine_factory) -> None:
    engine = engine_factory(SEL_CTX="256", SEL_MAX_NEW_TOKENS="8")
    history: list[str] = []
    dropped: list[int] = []
    for i in range(40):
        history.append(f"message {i} with some words")
        await collect(engine, "general", plan_for(*history))
        dropped.append(engine.last_stats.trimmed_turns)
        assert engine.last_stats.prompt_tokens <= 256 - 8
    assert max(dropped) > 0, "the history never had to be trimmed; make it longer"
    changes = sum(1 for x, y in itertools.pairwise(dropped) if x != y)
    assert changes <= len(dropped) // 4, f"the start of the history moved {changes} times in 40 turns: {dropped}"


async def test_model_with_chat_template_is_prompted_with_its_template(engine_factory, tiny_models) -> None:
    engine = engine_factory(SEL_GENERAL_MODEL=str(tiny_models.chat))
    rendered = engine.run_blocking(
        lambda llm: (
            None
            or __import__("sel.llm.residency", fromlist=["prompt_format_for"])
            .prompt_format_for(llm)
            .render(plan_for("hello", "how are you", sel_replies=("hi!",)))
        )
    )
    assert rendered.text.startswith("<|system|>\n"), "the BOS token is llama.cpp's to add, not the template's"
    assert "<|assistant|>\nhi!<|end|>" in rendered.text
    assert rendered.text.endswith("<|assistant|>\n")
    assert "</s>" in rendered.stop
    chunks = await collect(engine, "general", plan_for("hello"))
    assert "".join(chunks).strip()


async def test_missing_model_file_names_the_variable_and_the_fix(engine_factory, tmp_path) -> None:
    engine = engine_factory(SEL_CODER_MODEL=str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match=r"SEL_CODER_MODEL=.*nope\.gguf: file not found; .*make setup"):
        engine.check_models()
    with pytest.raises(ModelError, match="SEL_CODER_MODEL"):
        await collect(engine, "coder", plan_for("def x(): pass"))
    # The general slot keeps working after the coder slot failed.
    assert "".join(await collect(engine, "general", plan_for("hi"))).strip()


async def test_file_that_is_not_gguf_is_refused(engine_factory, tmp_path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 definitely a zip")
    engine = engine_factory(SEL_GENERAL_MODEL=str(fake))
    with pytest.raises(ModelError, match=r"SEL_GENERAL_MODEL=.*: not a GGUF file"):
        engine.check_models()


async def test_truncated_gguf_gives_a_one_line_error(engine_factory, tiny_models, tmp_path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_models.general.read_bytes()[:5000])
    engine = engine_factory(SEL_GENERAL_MODEL=str(broken))
    with pytest.raises(ModelError, match=r"llama\.cpp could not load it") as info:
        await collect(engine, "general", plan_for("hi"))
    assert "\n" not in str(info.value)


def test_partial_speaker_tag_at_the_cut_is_trimmed() -> None:
    from sel.llm.generation import trim_partial_stop

    stops = ("\nSEL:", "\nalice:")
    assert trim_partial_stop("I like tea!\nali", stops) == "I like tea!"
    assert trim_partial_stop("I like tea!\nSE", stops) == "I like tea!"
    assert trim_partial_stop("I like tea and ali", stops) == "I like tea and ali"
    assert trim_partial_stop("all good", stops) == "all good"


def test_pictures_ride_on_the_last_user_message_as_content_parts() -> None:
    from sel.llm.prompt import chat_messages

    plan = PromptPlan(
        persona=PERSONA,
        turns=(Turn("alice", "hi"), Turn("SEL", "hey", from_sel=True), Turn("alice", "what is this?")),
        late_note="mood: calm",
        images=("data:image/png;base64,AAAA",),
    )
    messages = chat_messages(plan)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    last = messages[-1]["content"]
    assert last[0] == {"type": "text", "text": "alice: what is this?\n(mood: calm)"}
    assert last[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert isinstance(messages[1]["content"], str), "only the message being answered carries the picture"


async def test_vision_projector_that_does_not_fit_the_model_is_a_clear_error(engine_factory, tiny_models) -> None:
    engine = engine_factory(SEL_VISION_MODEL=str(tiny_models.chat), SEL_VISION_MMPROJ=str(tiny_models.general))
    plan = PromptPlan(persona=PERSONA, turns=(Turn("alice", "look"),), images=("data:image/png;base64,AAAA",))
    with pytest.raises(ModelError, match=r"SEL_VISION_MMPROJ=.*general\.gguf: it does not fit SEL_VISION_MODEL"):
        await collect(engine, "vision", plan)


async def test_pictures_sent_to_a_slot_without_a_projector_are_refused(engine_factory) -> None:
    engine = engine_factory()
    plan = PromptPlan(persona=PERSONA, turns=(Turn("alice", "look"),), images=("data:image/png;base64,AAAA",))
    with pytest.raises(ModelError, match="no image projector"):
        await collect(engine, "general", plan)


async def test_when_the_engine_trims_the_prompt_says_so_at_a_stable_place(engine_factory) -> None:
    engine = engine_factory(SEL_CTX="256", SEL_MAX_NEW_TOKENS="8")
    from sel.domain import CUT_TURN
    from sel.llm.prompt import fit_turns

    turns = tuple(Turn("alice", f"message {i} with some words") for i in range(60))
    plan = PromptPlan(persona=PERSONA, turns=turns)
    count = engine.run_blocking(
        lambda llm: lambda p: len(llm.tokenize(TranscriptFormat().render(p).text.encode(), special=True))
    )
    fitted, anchor = fit_turns(plan, count, 200, None)
    assert fitted.turns[0] == CUT_TURN, "SEL must be told that earlier messages were cut"
    assert count(fitted) <= 200
    longer = PromptPlan(persona=PERSONA, turns=(*turns, Turn("alice", "one more")))
    again, _ = fit_turns(longer, count, 200, anchor)
    assert again.turns[: len(fitted.turns)] == fitted.turns, "the trimmed prompt's beginning must not move"


async def test_context_too_small_for_the_prompt_is_a_one_line_error(engine_factory, tiny_models) -> None:
    engine = engine_factory(SEL_CTX="256", SEL_MAX_NEW_TOKENS="1000", SEL_GENERAL_MODEL=str(tiny_models.chat))
    plan = PromptPlan(persona="word " * 300, turns=(Turn("alice", "hello there"),))
    with pytest.raises(ModelError, match=r"SEL_CTX=256 is too small: .*raise SEL_CTX"):
        await collect(engine, "general", plan)
