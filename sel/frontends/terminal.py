"""Terminal chat: interactive with streamed tokens, or piped (one reply per input line)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TextIO

from sel.config import Settings
from sel.llm.prompt import PromptPlan, Turn

PERSONA = (
    "This is a chat log. SEL is a warm, curious and helpful companion who lives on the owner's "
    "computer. SEL answers briefly and kindly, and says so when it does not know something."
)
CONVERSATION = "terminal"


def run_chat(settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the chat until EOF or /quit; returns the exit code."""
    return asyncio.run(chat(settings, stdin or sys.stdin, stdout or sys.stdout))


async def chat(settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    from sel.llm.engine import Engine

    engine = Engine(settings)
    engine.check_models()
    interactive = stdin.isatty()
    history: list[Turn] = []
    loop = asyncio.get_running_loop()
    if interactive:
        stdout.write("SEL terminal chat — type a message, /quit to leave.\n")
    try:
        while True:
            if interactive:
                stdout.write("you> ")
                stdout.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            history.append(Turn("you", text))
            plan = PromptPlan(persona=PERSONA, turns=tuple(history))
            if interactive:
                stdout.write("SEL> ")
            parts: list[str] = []
            stream = engine.stream("general", plan, conversation=CONVERSATION)
            async with contextlib.aclosing(stream):
                async for chunk in stream:
                    parts.append(chunk)
                    if interactive:
                        stdout.write(chunk)
                        stdout.flush()
            reply = "".join(parts).strip()
            if not interactive:
                stdout.write(reply + "\n")
            else:
                stdout.write("\n")
            stdout.flush()
            history.append(Turn("SEL", reply, from_sel=True))
    finally:
        await loop.run_in_executor(None, engine.close)
    return 0
