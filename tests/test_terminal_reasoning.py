"""The terminal chat with a model that reasons (a scripted tiny GGUF) and with a model server that is down."""

from __future__ import annotations

import io
from pathlib import Path

from sel.frontends.terminal import DIM, RESET, chat
from tests.gguf_scripted import write_scripted_llama
from tests.model_server import free_port

SCRIPT = ["<think>", "plan a friendly hello", "</think>", "\n\n", "Hello", " there"]


class Keyboard(io.StringIO):
    """Typed input: the chat sees a terminal, as when a person runs `sel chat`."""

    def isatty(self) -> bool:
        return True


def thinker_env(folder: Path, **env: str) -> dict[str, str]:
    path = write_scripted_llama(folder / "thinker.gguf", SCRIPT)
    return {"SEL_GENERAL_MODEL": str(path), "SEL_TEMPERATURE": "0", "SEL_MAX_NEW_TOKENS": "24", **env}


async def run(settings, stdin: io.StringIO) -> str:
    out = io.StringIO()
    assert await chat(settings, stdin, out) == 0
    return out.getvalue()


async def test_reasoning_is_hidden_by_default(make_settings, tmp_path) -> None:
    out = await run(make_settings(**thinker_env(tmp_path)), Keyboard("hi sel, how are you?\n"))
    assert "plan a friendly hello" not in out
    assert "SEL> Hello there\n" in out


async def test_in_spoiler_mode_a_terminal_shows_the_reasoning_dimmed_before_the_reply(make_settings, tmp_path) -> None:
    settings = make_settings(**thinker_env(tmp_path, SEL_SHOW_REASONING="spoiler"))
    out = await run(settings, Keyboard("hi sel, how are you?\n"))
    assert f"{DIM}plan a friendly hello{RESET}\nSEL> Hello there\n" in out, out


async def test_in_spoiler_mode_piped_output_has_a_reasoning_line_then_the_reply_line(make_settings, tmp_path) -> None:
    settings = make_settings(**thinker_env(tmp_path, SEL_SHOW_REASONING="spoiler"))
    out = await run(settings, io.StringIO("hi sel, how are you?\n"))
    assert out.splitlines() == ["(reasoning) plan a friendly hello", "Hello there"]


async def test_a_server_that_is_down_is_one_line_and_the_chat_goes_on(make_settings) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = make_settings(SEL_GENERAL_URL=url, SEL_GENERAL_MODEL="tiny-chat")
    out = await run(settings, Keyboard("hi sel, how are you?\ncode: print(1)\n/status\n"))
    lines = out.splitlines()
    errors = [line for line in lines if line.startswith("sel: ")]
    assert errors == [
        f"sel: SEL_GENERAL_URL={url}: cannot connect (connection refused); start the server or fix the URL"
    ]
    assert "Traceback" not in out
    assert "last reply: coder slot" in out, "the local coder model still answers after the failure"
