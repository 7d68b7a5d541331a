"""Engine faults on Discord: the coder model missing, corrupt or out of memory at swap time (one model
resident at a time, SEL_SINGLE_BACKEND=1), with the real llama.cpp, discord.py and the stand-in.

The person gets one clear line; once the cause is gone (file restored, memory free) SEL answers
again without a restart. A model server killed mid-reply is covered by test_discord_server_down.py.

Running out of memory cannot be caused safely here: it is the one thing simulated, by making the
load raise what llama-cpp-python raises when llama.cpp cannot allocate the context.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sel.frontends.discord.bot import SelBot
from sel.frontends.discord.responder import MODEL_TROUBLE
from sel.frontends.discord.stream import MARKER
from sel.llm import residency
from tests.discord_fixtures import mention, replies_in, spy_on_engine
from tests.standin.server import DiscordStandin

CODE_QUESTION = "code: how do I reverse a list in python?"


async def ask(standin: DiscordStandin, bot: SelBot, text: str) -> str:
    """Ask in #general and return SEL's whole answer to that message."""
    ch = standin.general.id
    before = len(standin.bot_messages(ch))
    sent = await standin.send_message(ch, standin.alice, f"{mention(bot)} {text}")
    await standin.wait_for(
        lambda: [m for m in standin.bot_messages(ch)[before:] if m.reply_to == int(sent["id"])],
        90,
        what=f"an answer to {text!r}",
    )
    await replies_in(standin, ch, count=before + 1, timeout=90)
    answers = [m for m in standin.bot_messages(ch)[before:] if m.reply_to == int(sent["id"])]
    assert len(answers) == 1, f"{len(answers)} answers to one question: {[m.content for m in answers]}"
    return answers[0].content


def assert_told_once(standin: DiscordStandin, answer: str) -> None:
    assert answer == MODEL_TROUBLE, f"expected one clear line about the model, got {answer!r}"
    said = [m.content for m in standin.bot_messages(standin.general.id)]
    assert said.count(MODEL_TROUBLE) == 1, f"the trouble was told more than once: {said}"
    assert not [s for s in said if s.endswith(MARKER.strip()) or "Traceback" in s or ".gguf" in s], said


@pytest.fixture
def coder_copy(tmp_path: Path, tiny_models: Any) -> Path:
    """A coder model the test may delete or damage (the session's tiny models are shared)."""
    path = tmp_path / "coder.gguf"
    shutil.copyfile(tiny_models.coder, path)
    return path


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
async def test_a_coder_model_gone_bad_at_swap_time_is_told_once_and_forgiven_once_fixed(
    sel_env, standin, coder_copy: Path, damage: str
) -> None:
    bot = await sel_env(SEL_CODER_MODEL=str(coder_copy), SEL_SINGLE_BACKEND="1")
    spy = spy_on_engine(bot)
    good = coder_copy.read_bytes()
    assert (await ask(standin, bot, "hi, how are you?")).strip()  # the general model is resident

    if damage == "missing":
        coder_copy.unlink()
    else:  # the header survives, the tensors do not: only llama.cpp can tell
        coder_copy.write_bytes(good[: len(good) // 3])
    assert_told_once(standin, await ask(standin, bot, CODE_QUESTION))
    assert spy.last().slot == "coder", "the code question must have asked for the coder model"
    general = await ask(standin, bot, "ok, never mind, how is your day?")
    assert general.strip() and general != MODEL_TROUBLE, "the general model must come back after the failed swap"

    coder_copy.write_bytes(good)  # the owner puts the file back: no restart
    answer = await ask(standin, bot, CODE_QUESTION)
    assert answer.strip() and answer != MODEL_TROUBLE, f"SEL did not recover once the file was back: {answer!r}"


async def test_a_load_that_runs_out_of_memory_is_told_once_and_forgiven_once_memory_is_free(
    sel_env, standin, monkeypatch
) -> None:
    bot = await sel_env(SEL_SINGLE_BACKEND="1")
    real = residency._llama_class
    short_of_memory = True

    def llama_class() -> type:
        llama = real()
        if not short_of_memory:
            return llama

        class OutOfMemory:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                # What llama-cpp-python raises when llama.cpp cannot allocate the KV cache and buffers.
                raise ValueError("Failed to create llama_context")

        return OutOfMemory

    monkeypatch.setattr(residency, "_llama_class", llama_class)
    assert_told_once(standin, await ask(standin, bot, CODE_QUESTION))
    short_of_memory = False  # another program quit: the next load fits
    answer = await ask(standin, bot, CODE_QUESTION)
    assert answer.strip() and answer != MODEL_TROUBLE, f"SEL did not recover once memory was free: {answer!r}"
