"""Smoke tests on the bundled default model (Gemma 3 270M Q4_K_M) through real llama.cpp."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from sel.config import load_settings
from sel.domain import PromptPlan, Turn
from sel.llm.engine import Engine
from tests.cli_runner import run_sel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(bundled_models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings(
        {
            "SEL_MODELS_DIR": str(bundled_models_dir),
            "SEL_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "SEL_SEED": "3",
        }
    )
    engine = Engine(settings.llm)
    yield engine
    engine.close()


async def test_default_model_loads_and_answers(engine: Engine) -> None:
    plan = PromptPlan(
        persona="This is a chat log. SEL is a friendly companion.",
        turns=(Turn("alice", "hi SEL! what is your favourite animal?"),),
    )
    reply = "".join([c async for c in engine.stream("general", plan, conversation="smoke", max_tokens=32)])
    stats = engine.last_stats
    assert reply.strip(), "the default model produced an empty reply"
    assert "\nalice:" not in reply, "the reply ran into the next speaker's line"
    assert stats.completion_tokens >= 1 and stats.tokens_per_second > 0
    assert stats.model_path.endswith("gemma-3-270m-Q4_K_M.gguf")


async def test_default_model_cancels_promptly(engine: Engine) -> None:
    plan = PromptPlan(persona="A story.", turns=(Turn("alice", "tell me a very long story about a turtle"),))
    stream = engine.stream("general", plan, conversation="smoke-cancel", max_tokens=256)
    async with contextlib.aclosing(stream):
        async for _ in stream:
            break
    await __import__("asyncio").to_thread(engine.run_blocking, lambda llm: None)
    stats = engine.last_stats
    # The consumer took one token and closed the stream: the worker may finish the token it was on.
    assert stats.cancelled, "closing the stream did not cancel the generation"
    assert stats.completion_tokens <= 3, f"{stats.completion_tokens} tokens generated after an immediate cancel"


def test_piped_make_run_style_chat_prints_a_reply(bundled_models_dir: Path, tmp_path: Path) -> None:
    env = {"SEL_MODELS_DIR": str(bundled_models_dir), "SEL_DATA_DIR": str(tmp_path), "SEL_MAX_NEW_TOKENS": "40"}
    result = run_sel("run", env=env, cwd=tmp_path, stdin="hey sel, how are you?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"no reply printed; stderr: {result.stderr}"
