"""The pure parts of talking to a model server: retry waits, server-sent events, request bodies, error lines."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from sel.config import load_settings
from sel.domain import PromptPlan, Turn
from sel.errors import ModelError, ServerUnavailableError
from sel.llm.openai_api import build_request
from sel.llm.retry import BASE_WAIT, MAX_WAIT, parse_retry_after, retry_delay
from sel.llm.server_errors import Retry, model_problem, status_problem
from sel.llm.sse import sse_data

NOW = 1_800_000_000.0


def test_retry_after_in_seconds_is_waited_exactly() -> None:
    assert retry_delay(0, "3", random.Random(1), now=NOW) == 3.0
    assert retry_delay(5, "0", random.Random(1), now=NOW) == 0.0


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 7, UTC), usegmt=True)
    assert retry_delay(0, when, random.Random(1), now=NOW) == pytest.approx(7.0)
    past = format_datetime(datetime.fromtimestamp(NOW - 60, UTC), usegmt=True)
    assert retry_delay(0, past, random.Random(1), now=NOW) == 0.0


def test_a_huge_retry_after_is_capped() -> None:
    assert retry_delay(0, "86400", random.Random(1), now=NOW) == MAX_WAIT


def test_without_a_hint_the_wait_doubles_and_is_jittered() -> None:
    rng = random.Random(42)
    for attempt in range(4):
        waits = [retry_delay(attempt, None, rng, now=NOW) for _ in range(50)]
        full = BASE_WAIT * 2**attempt
        assert all(full / 2 <= w <= full for w in waits), attempt
        assert len(set(waits)) > 1, "jitter spreads the retries of several conversations"
    assert retry_delay(30, None, rng, now=NOW) <= MAX_WAIT


@pytest.mark.parametrize("header", [None, "", "soon", "Mon, 99 Foo 2020"])
def test_an_unreadable_retry_after_falls_back_to_backoff(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None
    assert BASE_WAIT / 2 <= retry_delay(0, header, random.Random(3), now=NOW) <= BASE_WAIT


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_sse_yields_each_events_data_until_done() -> None:
    stream = lines(": ping", "event: message", 'data: {"a": 1}', "", "data: line one", "data: line two", "", "")
    stream2 = lines("data: [DONE]", "", "data: after", "")
    assert [d async for d in sse_data(stream)] == ['{"a": 1}', "line one\nline two"]
    assert [d async for d in sse_data(stream2)] == []


async def test_sse_keeps_a_last_event_without_its_blank_line() -> None:
    assert [d async for d in sse_data(lines("data:x"))] == ["x"]


def request_body(**env: str) -> dict:
    settings = load_settings({"SEL_VISION_URL": "http://h:1/v1", "SEL_VISION_MODEL": "vl", **env})
    remote = settings.remote_slots()["vision"]
    plan = PromptPlan(
        "persona", (Turn("bob", "what is this?"),), late_note="mood: calm", images=("data:image/png;base64,AA",)
    )
    api = settings.vision_api
    return json.loads(build_request(remote, plan, settings.llm, api=api, max_tokens=9, llama_cpp=False).body)


def test_pictures_travel_as_image_url_parts_on_the_last_user_message() -> None:
    body = request_body()
    last = body["messages"][-1]
    assert last["role"] == "user"
    assert last["content"][0] == {"type": "text", "text": "bob: what is this?\n(mood: calm)"}
    assert last["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    assert body["max_tokens"] == 9 and "cache_prompt" not in body and "seed" not in body


def test_pictures_cannot_go_through_the_completions_api() -> None:
    with pytest.raises(ModelError, match="SEL_VISION_API=completions cannot send pictures"):
        request_body(SEL_VISION_API="completions")


def test_an_undecodable_byte_in_a_message_still_makes_a_utf8_body() -> None:
    settings = load_settings({"SEL_GENERAL_URL": "http://h:1/v1", "SEL_GENERAL_MODEL": "m"})
    plan = PromptPlan("persona", (Turn("bob", "bad \udcff byte"),))
    request = build_request(
        settings.remote_slots()["general"], plan, settings.llm, api="chat", max_tokens=4, llama_cpp=True
    )
    assert "bad \ufffd byte" in json.loads(request.body)["messages"][-1]["content"]


def test_an_error_that_echoes_the_key_does_not_print_it() -> None:
    settings = load_settings({"SEL_GENERAL_URL": "http://h:1/v1", "SEL_GENERAL_MODEL": "m", "SEL_API_KEY": "sk-abc"})
    remote = settings.remote_slots()["general"]
    problem = status_problem(
        remote, 500, {}, '{"error": {"message": "bad key sk-abc\\nsee docs"}}', "/chat/completions"
    )
    assert isinstance(problem, ServerUnavailableError) and problem.kind == "http"
    assert str(problem) == (
        "SEL_GENERAL_URL=http://h:1/v1: the server answered HTTP 500: bad key (hidden) see docs; check the server's log"
    )


def test_busy_answers_are_retried_with_the_servers_hint() -> None:
    settings = load_settings({"SEL_CODER_URL": "http://h:1/v1", "SEL_CODER_MODEL": "m"})
    problem = status_problem(settings.remote_slots()["coder"], 503, {"retry-after": "4"}, "", "/chat/completions")
    assert isinstance(problem, Retry) and problem.after == "4" and problem.error.kind == "busy"


@pytest.mark.parametrize(
    ("listed", "serves"),
    [
        ([{"id": "qwen2.5", "owned_by": "library"}], True),
        ([{"id": "qwen2.5:latest", "owned_by": "library"}], True),  # Ollama's default tag
        ([{"id": "models/qwen.gguf", "aliases": ["qwen2.5"], "owned_by": "llamacpp"}, {"id": "b"}], True),
        ([{"id": "models/any.gguf", "owned_by": "llamacpp"}], True),  # one-model llama-server answers to any name
        ([{"id": "models/a.gguf", "owned_by": "llamacpp"}, {"id": "b", "owned_by": "llamacpp"}], False),
        ([{"id": "qwen2.5-coder:7b", "owned_by": "vllm"}], False),
        ([], False),
    ],
)
def test_which_model_lists_serve_the_configured_name(listed: list[dict], serves: bool) -> None:
    settings = load_settings({"SEL_GENERAL_URL": "http://h:1/v1", "SEL_GENERAL_MODEL": "qwen2.5"})
    remote = settings.remote_slots()["general"]
    problem = model_problem(remote, listed)
    assert (problem is None) == serves
    if problem is not None:
        assert problem.kind == "model" and str(problem).startswith("SEL_GENERAL_MODEL=qwen2.5: the model is not on")
