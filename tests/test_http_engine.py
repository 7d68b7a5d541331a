"""HttpEngine against a real OpenAI-compatible server (llama-cpp-python's, on loopback, tiny GGUFs).

Where a healthy server will not misbehave on cue (503 with Retry-After, a dropped connection, a cut
mid-answer, reasoning sent as ``reasoning_content``) a loopback proxy sits in front of it
(tests/fault_proxy.py). Nothing here mocks HTTP.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sel.config import load_settings
from sel.domain import PromptPlan, Thought, Turn
from sel.errors import ServerUnavailableError, render_error
from sel.llm.http_engine import HttpEngine
from tests.fault_proxy import FaultProxy
from tests.model_server import API_KEY, ModelServer, free_port, model_server, own_server  # noqa: F401

PLAN = PromptPlan(persona="You are SEL, a friendly companion.", turns=(Turn("alice", "hi sel, how are you?"),))
EngineFactory = Callable[..., HttpEngine]


@pytest.fixture
def engine_for(tmp_path: Path) -> EngineFactory:
    """An HttpEngine for the general slot on ``url``; keyword arguments are extra SEL_* settings."""

    def make(url: str, model: str = "tiny-chat", *, retries: int = 3, **env: str) -> HttpEngine:
        base = {
            "SEL_DATA_DIR": str(tmp_path / "data"),
            "SEL_GENERAL_URL": url,
            "SEL_GENERAL_MODEL": model,
            "SEL_API_KEY": API_KEY,
            "SEL_MAX_NEW_TOKENS": "12",
            "SEL_CTX": "1024",
            "SEL_SEED": "7",
        }
        settings = load_settings({**base, **env})
        return HttpEngine(settings.remote_slots(), settings.llm, retries=retries, rng=random.Random(0))

    return make


@pytest.fixture
async def proxy(model_server: ModelServer) -> AsyncIterator[FaultProxy]:  # noqa: F811
    fault_proxy = FaultProxy(model_server.port)
    await fault_proxy.start()
    yield fault_proxy
    await fault_proxy.close()


async def collect(engine: HttpEngine, plan: PromptPlan = PLAN) -> list[str | Thought]:
    return [piece async for piece in engine.stream("general", plan, conversation="c1")]


def text_of(pieces: list[str | Thought]) -> str:
    return "".join(p for p in pieces if isinstance(p, str))


async def test_chat_replies_stream_from_the_server_with_the_key_as_a_bearer_token(engine_for, proxy) -> None:
    engine = engine_for(proxy.url)
    first = await engine.complete("general", PLAN, conversation="c1")  # the model shows it does not think
    pieces = await collect(engine)
    assert first.strip() and text_of(pieces).strip()
    assert len(pieces) > 1, "once the model is known not to think, a reply streams chunk by chunk"
    request = proxy.seen("/chat/completions")[-1]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["stream"] is True and body["model"] == "tiny-chat"
    assert body["messages"][0] == {"role": "system", "content": PLAN.persona}, "persona first: the stable prefix"
    assert body["messages"][-1]["content"].endswith("alice: hi sel, how are you?")
    assert "cache_prompt" not in body, "a server that is not llama.cpp gets no llama.cpp-only fields"
    stats = engine.last_stats
    assert stats is not None and stats.completion_tokens >= 1 and stats.time_to_first_token > 0
    await engine.aclose()


async def test_completions_api_sends_the_transcript_with_its_stop_strings(engine_for, proxy) -> None:
    engine = engine_for(proxy.url, "tiny-base", SEL_GENERAL_API="completions")
    reply = await engine.complete("general", PLAN, conversation="c1")
    assert reply.strip() and not reply.startswith(" ")
    body = proxy.seen("/v1/completions")[-1].json()
    assert body["prompt"].startswith(PLAN.persona) and body["prompt"].endswith("alice: hi sel, how are you?\nSEL:")
    assert "\nalice:" in body["stop"]
    assert not proxy.seen("/chat/completions")
    await engine.aclose()


async def test_a_model_without_chat_template_switches_the_slot_to_completions(engine_for, proxy) -> None:
    vllm_says = json.dumps({"object": "error", "message": "default chat template is no longer allowed", "code": 400})
    proxy.answer_next("/chat/completions", 400, {"Content-Type": "application/json"}, vllm_says)
    engine = engine_for(proxy.url, "tiny-base")
    assert (await engine.complete("general", PLAN, conversation="c1")).strip()
    assert [r.path for r in proxy.requests if r.method == "POST"] == ["/v1/chat/completions", "/v1/completions"]
    assert engine.status()["slots"]["general"]["api"] == "completions"
    await engine.complete("general", PLAN, conversation="c1")
    assert len(proxy.seen("/chat/completions")) == 1, "the slot stays on /completions"
    await engine.aclose()


async def test_closing_the_stream_closes_the_connection_to_the_server(engine_for, proxy) -> None:
    engine = engine_for(proxy.url, SEL_MAX_NEW_TOKENS="200")
    await engine.complete("general", PLAN, conversation="c1", max_tokens=4)
    proxy.hold_after(2)  # the role event and the first text event, then the answer stays open
    stream = engine.stream("general", PLAN, conversation="c1")
    first = await anext(stream)
    assert isinstance(first, str) and first
    assert not proxy.client_hung_up.is_set()
    await stream.aclose()
    await _wait(proxy.client_hung_up, "the proxy never saw SEL close the connection")
    assert engine.last_stats is not None and engine.last_stats.cancelled
    await engine.aclose()


async def test_a_server_that_stops_sending_times_out_with_one_clear_line(engine_for, proxy) -> None:
    engine = engine_for(proxy.url, SEL_READ_TIMEOUT="1", SEL_MAX_NEW_TOKENS="200")
    await engine.complete("general", PLAN, conversation="c1", max_tokens=4)
    proxy.hold_after(2)  # the answer stays open and silent after its first text
    received: list[str | Thought] = []
    with pytest.raises(ServerUnavailableError) as info:
        async for piece in engine.stream("general", PLAN, conversation="c1"):
            received.append(piece)
    assert received and info.value.kind == "timeout"
    assert str(info.value) == (
        f"SEL_GENERAL_URL={proxy.url}: no answer for 1 s; the server may be overloaded or stuck: "
        "check it, or raise SEL_READ_TIMEOUT"
    )
    assert len(proxy.seen("/chat/completions")) == 2, "a timed-out answer is not asked for again"
    await engine.aclose()


async def test_a_503_is_retried_no_sooner_than_its_retry_after(engine_for, proxy) -> None:
    proxy.answer_next("/chat/completions", 503, {"Retry-After": "1"}, "loading model")
    engine = engine_for(proxy.url)
    assert (await engine.complete("general", PLAN, conversation="c1")).strip()
    first, second = proxy.seen("/chat/completions")
    assert second.at - first.at >= 1.0, "SEL came back before the server's Retry-After"
    await engine.aclose()


async def test_a_connection_dropped_before_any_text_is_retried(engine_for, proxy) -> None:
    proxy.drop_next("/chat/completions")
    engine = engine_for(proxy.url)
    assert (await engine.complete("general", PLAN, conversation="c1")).strip()
    assert len(proxy.seen("/chat/completions")) == 2
    await engine.aclose()


async def test_a_server_that_stays_busy_gives_one_clear_line(engine_for, proxy) -> None:
    for _ in range(2):
        proxy.answer_next("/chat/completions", 429, {"Retry-After": "0"}, '{"error": {"message": "too many requests"}}')
    engine = engine_for(proxy.url, retries=1)
    with pytest.raises(ServerUnavailableError) as info:
        await engine.complete("general", PLAN, conversation="c1")
    assert info.value.kind == "busy" and info.value.url == proxy.url
    assert render_error(info.value) == (
        f"SEL_GENERAL_URL={proxy.url}: the server is busy (HTTP 429: too many requests); "
        "try again later, or give it more slots"
    )
    await engine.aclose()


async def test_connection_refused_is_one_clear_line(engine_for) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = engine_for(url, retries=0)
    with pytest.raises(ServerUnavailableError) as info:
        await collect(engine)
    assert info.value.kind == "connect"
    assert render_error(info.value) == (
        f"SEL_GENERAL_URL={url}: cannot connect (connection refused); start the server or fix the URL"
    )
    await engine.aclose()


async def test_a_server_killed_mid_answer_raises_then_sel_answers_once_it_is_back(
    engine_for,
    own_server,  # noqa: F811
) -> None:
    proxy = FaultProxy(own_server.port)
    await proxy.start()
    engine = engine_for(proxy.url, SEL_MAX_NEW_TOKENS="200")
    await engine.complete("general", PLAN, conversation="c1", max_tokens=4)
    proxy.hold_after(2)
    received: list[str | Thought] = []
    with pytest.raises(ServerUnavailableError) as info:
        async for piece in engine.stream("general", PLAN, conversation="c1"):
            received.append(piece)
            if len(received) == 1:
                own_server.kill()
                proxy.cut()  # what was still in flight dies with the server
    assert text_of(received), "the text that arrived before the crash is the caller's to keep"
    assert info.value.kind == "broken" and "\n" not in str(info.value)
    assert str(info.value).startswith(f"SEL_GENERAL_URL={proxy.url}: the answer stopped half-way")
    assert len(proxy.seen("/chat/completions")) == 2, "a half-sent answer is never asked for again"

    proxy.stop_holding()
    with pytest.raises(ServerUnavailableError):  # the server is still down
        await engine.complete("general", PLAN, conversation="c1")
    own_server.start()  # back on the same port
    assert (await engine.complete("general", PLAN, conversation="c1")).strip()
    await engine.aclose()
    await proxy.close()


async def test_a_stopped_server_fails_clearly_and_the_next_request_after_restart_succeeds(
    engine_for,
    own_server,  # noqa: F811
) -> None:
    engine = engine_for(own_server.url, retries=0)
    assert (await engine.complete("general", PLAN, conversation="c1")).strip()
    own_server.kill()
    with pytest.raises(ServerUnavailableError, match="cannot connect"):
        await engine.complete("general", PLAN, conversation="c1")
    own_server.start()
    assert (await engine.complete("general", PLAN, conversation="c1")).strip()
    await engine.aclose()


async def test_think_blocks_from_the_model_become_thoughts_not_text(engine_for, model_server) -> None:  # noqa: F811
    engine = engine_for(model_server.url, "thinker", SEL_TEMPERATURE="0", SEL_MAX_NEW_TOKENS="20")
    pieces = await collect(engine)
    assert pieces[0] == Thought("plan a friendly hello")
    assert pieces[1:] == ["hello there", " friend"], "after the thought, the answer streams as text"
    assert await engine.complete("general", PLAN, conversation="c1") == "hello there friend"
    await engine.aclose()


async def test_reasoning_content_becomes_a_thought(engine_for, proxy) -> None:
    events = [
        {"choices": [{"delta": {"role": "assistant"}}]},
        {"choices": [{"delta": {"reasoning_content": "they said hi, "}}]},
        {"choices": [{"delta": {"reasoning_content": "so greet back"}}]},
        {"choices": [{"delta": {"content": "hey alice"}}]},
        {"choices": [{"delta": {"content": "!"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 31, "completion_tokens": 9}},
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    proxy.answer_next("/chat/completions", 200, {"Content-Type": "text/event-stream"}, body)
    engine = engine_for(proxy.url)
    pieces = await collect(engine)
    assert pieces[0] == Thought("they said hi, so greet back") and text_of(pieces) == "hey alice!"
    stats = engine.last_stats
    assert stats is not None and (stats.prompt_tokens, stats.completion_tokens) == (31, 9)
    await engine.aclose()


async def test_reasoning_opened_by_the_template_is_a_thought_even_in_the_first_reply(engine_for, proxy) -> None:
    # Templates such as DeepSeek-R1's end the prompt with "<think>": the model writes only the closing tag.
    events = [
        {"choices": [{"delta": {"content": piece}}]} for piece in ["they greet me", "</thi", "nk>\n\n", "hi alice"]
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    proxy.answer_next("/chat/completions", 200, {"Content-Type": "text/event-stream"}, body)
    engine = engine_for(proxy.url)
    assert await collect(engine) == [Thought("they greet me"), "hi alice"]
    proxy.answer_next("/chat/completions", 200, {"Content-Type": "text/event-stream"}, body)
    assert await collect(engine) == [Thought("they greet me"), "hi alice"], "a model known to think stays held"
    await engine.aclose()


async def test_an_error_event_inside_the_stream_is_one_clear_line(engine_for, proxy) -> None:
    error = {"error": {"code": 400, "message": "the request exceeds the available context size", "type": "x"}}
    body = f"data: {json.dumps(error)}\n\n"
    proxy.answer_next("/chat/completions", 200, {"Content-Type": "text/event-stream"}, body)
    engine = engine_for(proxy.url)
    with pytest.raises(ServerUnavailableError) as info:
        await engine.complete("general", PLAN, conversation="c1")
    assert str(info.value) == (
        f"SEL_GENERAL_URL={proxy.url}: the server stopped with an error: the request exceeds the available "
        "context size; check the server's log"
    )
    await engine.aclose()


async def test_a_llama_cpp_server_gets_cache_prompt(engine_for, proxy) -> None:
    models = {"object": "list", "data": [{"id": "tiny-chat", "object": "model", "owned_by": "llamacpp"}]}
    proxy.answer_next("/models", 200, {"Content-Type": "application/json"}, json.dumps(models))
    engine = engine_for(proxy.url)
    await engine.complete("general", PLAN, conversation="c1")
    body = proxy.seen("/chat/completions")[-1].json()
    assert body["cache_prompt"] is True and body["repeat_penalty"] == pytest.approx(1.1)
    await engine.aclose()


async def test_warm_up_and_check_name_a_missing_model_and_a_refused_key(engine_for, model_server) -> None:  # noqa: F811
    serving = engine_for(model_server.url)
    await serving.warm_up("general")
    missing = engine_for(model_server.url, "nope")
    assert await missing.check() == [
        f"SEL_GENERAL_MODEL=nope: the model is not on {model_server.url} (it has: tiny-chat, tiny-base, thinker); "
        "set SEL_GENERAL_MODEL to one of those names"
    ]
    with pytest.raises(ServerUnavailableError) as info:
        await missing.warm_up("general")
    assert info.value.kind == "model"
    wrong = engine_for(model_server.url, SEL_API_KEY="sk-wrong-key-123")
    with pytest.raises(ServerUnavailableError) as info:
        await wrong.complete("general", PLAN, conversation="c1")
    assert info.value.kind == "auth"
    assert "sk-wrong-key-123" not in str(info.value) and API_KEY not in str(info.value)
    assert "SEL_GENERAL_API_KEY or SEL_API_KEY" in str(info.value)
    for engine in (serving, missing, wrong):
        await engine.aclose()


async def test_the_api_key_never_reaches_the_logs(engine_for, proxy, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    proxy.answer_next("/chat/completions", 503, {"Retry-After": "0"})
    engine = engine_for(proxy.url)
    await engine.warm_up("general")
    await engine.complete("general", PLAN, conversation="c1")
    assert any("retrying" in r.getMessage() for r in caplog.records), "the retry was logged"
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(engine.slots) and API_KEY not in json.dumps(engine.status())
    await engine.aclose()


async def _wait(event, failure: str) -> None:
    import asyncio

    try:
        await asyncio.wait_for(event.wait(), 60)  # a hang guard, not a speed assertion
    except TimeoutError:
        pytest.fail(failure)
