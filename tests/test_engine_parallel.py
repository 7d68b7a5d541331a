"""The composite engine: slots routed to the in-process engine or a real model server, replies in parallel.

The server is llama-cpp-python's OpenAI-compatible server on loopback (tests/model_server.py),
serving tiny generated GGUFs; nothing here is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sel.app import open_app
from sel.domain import IncomingMessage, PromptPlan, Thought, Turn
from sel.errors import ModelError
from sel.llm.engine import Engine
from tests.gguf_scripted import write_scripted_llama
from tests.model_server import API_KEY, ModelServer, make_server

PERSONA = "This is a chat log. SEL is a friendly companion."
# What a chat model answers to the fact-extraction request: its list whole, "- " included.
FACTS_SCRIPT = ["- I grow tomatoes on my balcony", "\n- Bob is a nurse", "\n- none", "\nAnyway, a lovely day"]
MESSAGE = "Ever since I moved here, tomatoes on the balcony keep me sane. Bob works nights."


def plan_for(text: str) -> PromptPlan:
    return PromptPlan(persona=PERSONA, turns=(Turn("alice", text),))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """A server that also serves a fact-listing model, and lets parallel requests queue.

    llama-cpp-python's server runs one generation at a time; by default a waiting request cuts
    the running stream short (interrupt_requests), which a server for SEL must not do.
    """
    folder = tmp_path_factory.mktemp("parallel-server")
    server = make_server(folder)
    facts = write_scripted_llama(folder / "facts.gguf", FACTS_SCRIPT, name="facts")
    config = json.loads(server.config.read_text())
    config["interrupt_requests"] = False
    config["models"].append({"model": str(facts), "model_alias": "facts", "n_ctx": 1024, "n_threads": 1})
    server.config.write_text(json.dumps(config))
    server.start()
    yield server
    server.kill()


def remote_env(server: ModelServer, slot: str, model: str) -> dict[str, str]:
    return {f"SEL_{slot.upper()}_URL": server.url, f"SEL_{slot.upper()}_MODEL": model, "SEL_API_KEY": API_KEY}


@dataclass
class Reader:
    """Reads one reply, and after its first chunk holds the stream open until released."""

    name: str
    release: asyncio.Event = field(default_factory=asyncio.Event)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    text: str = ""

    async def read(self, engine: Engine, slot: str) -> None:
        stream = engine.stream(slot, plan_for(f"hello from {self.name}"), conversation=self.name)
        async with contextlib.aclosing(stream):
            async for item in stream:
                self.text += item if isinstance(item, str) else ""
                if not self.first.is_set():
                    self.first.set()
                    await self.release.wait()


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (the suite's timeout guards a condition that never comes)."""
    async with asyncio.timeout(120):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("where", ["local", "remote"])
async def test_at_most_max_parallel_replies_are_generated_at_once(engine_factory, request, where) -> None:
    env = {"SEL_MAX_PARALLEL": "2", "SEL_MAX_NEW_TOKENS": "6"}
    if where == "remote":
        env |= remote_env(request.getfixturevalue("server"), "general", "tiny-chat")
    engine = engine_factory(**env)
    readers = [Reader(name) for name in ("first", "second", "third")]
    tasks = [asyncio.create_task(reader.read(engine, "general")) for reader in readers]
    first, second, third = readers
    try:
        # Two replies have begun and are held open: the third waits for a place, not for the model.
        await until(
            lambda: (
                first.first.is_set() and second.first.is_set() and (third.first.is_set() or bool(engine.limit.waiting))
            )
        )
        assert not third.first.is_set(), "a third reply started while two were in flight with SEL_MAX_PARALLEL=2"
        assert engine.limit.running == 2 and engine.status()["waiting"] == 1
        first.release.set()
        await third.first.wait()  # the first reply's place went to the third
        assert tasks[0].done(), "the third reply started before the first one gave up its place"
    finally:
        for reader in readers:
            reader.release.set()
        await asyncio.gather(*tasks)
    assert all(reader.text.strip() for reader in readers), [reader.text for reader in readers]
    assert engine.limit.running == 0


async def test_a_local_and_a_remote_slot_serve_side_by_side(engine_factory, server, tiny_models) -> None:
    engine = engine_factory(**remote_env(server, "coder", "tiny-chat"))
    await engine.warm_up("coder")  # the server answers and serves the model
    # The worker thread is busy with other local work: the local reply queues behind it...
    inside, leave = threading.Event(), threading.Event()

    def busy(llm: object) -> None:
        inside.set()
        leave.wait(120)

    blocker = asyncio.create_task(asyncio.to_thread(engine.run_blocking, busy))
    await asyncio.to_thread(inside.wait, 120)
    local = Reader("local")
    local.release.set()
    local_task = asyncio.create_task(local.read(engine, "general"))
    try:
        # ...while the remote slot answers in full, without waiting for the worker.
        remote_reply = await engine.complete("coder", plan_for("def f(): pass"), conversation="code")
        assert remote_reply.strip(), "the remote coder slot gave an empty reply"
        assert engine.last_stats is not None and engine.last_stats.model_path == "tiny-chat"
        assert not local.first.is_set(), "the local reply ran while the worker was busy"
    finally:
        leave.set()
        await blocker
    await local_task
    assert local.text.strip(), "the local general slot gave an empty reply"
    assert engine.last_stats.model_path == str(tiny_models.general)
    status = engine.status()
    assert status["slots"] == {"general": str(tiny_models.general), "coder": "tiny-chat"}
    assert status["servers"] == {"coder": {"url": server.url, "model": "tiny-chat"}}
    assert status["loaded"] == [str(tiny_models.general)], "the remote slot must not load a local model"
    with pytest.raises(ModelError, match="coder slot is served by a model server"):
        engine.run_blocking(lambda llm: None, "coder")


async def test_a_local_model_that_thinks_yields_thought_items_apart_from_the_reply(engine_factory, tmp_path) -> None:
    thinker = write_scripted_llama(tmp_path / "thinker.gguf", ["<think>", "plan", "</think>", "answer"])
    engine = engine_factory(SEL_GENERAL_MODEL=str(thinker), SEL_TEMPERATURE="0")
    items = [item async for item in engine.stream("general", plan_for("hi"), conversation="c1")]
    assert [item for item in items if isinstance(item, Thought)] == [Thought("plan")]
    assert "".join(item for item in items if isinstance(item, str)) == "answer", items
    assert await engine.complete("general", plan_for("hi again"), conversation="c1") == "answer"


async def test_facts_are_extracted_by_a_remote_general_model(make_settings, server, tmp_path: Path) -> None:
    settings = make_settings(SEL_MEMORY_LLM_EXTRACTION="1", **remote_env(server, "general", "facts"))
    app = await asyncio.to_thread(open_app, settings)
    try:
        await app.warm_up()
        await app.set_consent("1001", True)
        msg = IncomingMessage("1001", "ana", "dm-1001", MESSAGE, is_dm=True)
        await app.brain.listen(msg, app.brain.decide(msg))
        memories = (await app.export("1001"))["memories"]
        stored = [m["text"] for m in memories if m["kind"] == "fact"]
        # ana's own turn is kept whole as her episode; the facts are what the model found in it
        assert [m["text"] for m in memories if m["kind"] == "episode"] == [MESSAGE]
        # Bob's fact is his to share, "none" is no fact, and the list ended before the rambling.
        assert stored == ["I grow tomatoes on my balcony"]
        assert app.engine.status()["loaded"] == [], "nothing ran in-process"
    finally:
        await app.aclose()


async def test_the_brain_never_puts_a_thought_into_the_reply(make_settings, tmp_path) -> None:
    thinker = write_scripted_llama(tmp_path / "thinker.gguf", ["<think>", "plan", "</think>", "answer"])
    settings = make_settings(SEL_GENERAL_MODEL=str(thinker), SEL_TEMPERATURE="0")
    app = await asyncio.to_thread(open_app, settings, with_memory=False)
    try:
        msg = IncomingMessage("1001", "ana", "dm-1001", "hey SEL, how are you doing today?", is_dm=True)
        decision = app.brain.decide(msg)
        assert not decision.silent and decision.text is None, "the message must go to the model"
        reply = "".join([piece async for piece in app.brain.respond(msg, (), decision)])
        assert "plan" not in reply and "think" not in reply, reply
        assert "answer" in reply.lower(), reply
    finally:
        await app.aclose()
