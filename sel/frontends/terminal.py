"""Terminal chat through SEL's brain: interactive with streamed tokens, or piped (one reply per line).

Every line is addressed to SEL, like a Discord DM, so SEL always answers; mood and style
evolve as in Discord, and code questions go to the coder model. Lines starting with "/"
are commands:

    /mood         SEL's mood and hormone levels
    /mode NAME    switch personality mode (casual, deep_focus, playful, quiet_companion)
    /why          why the last message was routed and prioritised the way it was
    /status       mode, mood and which model wrote the last reply
    /help         this list
    /quit         leave (so does end of input)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from sel.config import Settings
from sel.domain import Turn
from sel.errors import InputError, SelError
from sel.undecodable import replace_undecodable

if TYPE_CHECKING:
    from sel.runtime import Runtime

CONVERSATION = "terminal"
USER_ID = "local"  # `sel memory ... local` manages the terminal user's memories
USER_NAME = "you"
HELP = (
    "/mood  /mode NAME  /why  /status  /help  /quit — everything else is a message to SEL "
    "(start it with code: or chat: to pick the model)"
)


def run_chat(settings: Settings, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the chat until EOF or /quit; returns the exit code."""
    return asyncio.run(chat(settings, stdin or sys.stdin, stdout or sys.stdout))


async def chat(settings: Settings, stdin: TextIO, stdout: TextIO, runtime: Runtime | None = None) -> int:
    """The chat loop. ``runtime`` defaults to a fresh one built from ``settings`` (and closed at the end)."""
    from sel.runtime import open_runtime

    owned = runtime is None
    if runtime is None:
        runtime = open_runtime(settings)
    interactive = stdin.isatty()
    history: list[Turn] = []
    lines = read_lines(stdin)
    if interactive:
        stdout.write("SEL terminal chat — type a message, /help for commands, /quit to leave.\n")
    try:
        while True:
            if interactive:
                stdout.write("you> ")
                stdout.flush()
            line = await lines.get()
            if isinstance(line, Exception):
                raise InputError(f"cannot read the input any more ({line}); check what is piped into `sel chat`")
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if text.split()[0] in ("/quit", "/exit"):
                    break
                stdout.write(command(runtime, text) + "\n")
                stdout.flush()
                continue
            try:
                reply = await answer(runtime, text, history, stdout, interactive)
            except SelError as err:
                if not interactive:
                    raise  # piped: stop with the one-line error and a non-zero exit (see sel.cli)
                # e.g. the coder model cannot be loaded: say so and keep chatting with what works.
                stdout.write(f"\nsel: {err}\n")
                stdout.flush()
                continue
            if reply is not None:
                history += [Turn(USER_NAME, text), Turn("SEL", reply, from_sel=True)]
                trim_history(history, settings.history_limit)
    finally:
        if owned:
            await runtime.aclose()
    return 0


def read_lines(stdin: TextIO) -> asyncio.Queue[str | Exception]:
    """Lines of ``stdin`` ("" at end of input, the exception if reading fails), read by a daemon thread.

    A daemon thread rather than the loop's executor: at Ctrl-C, asyncio.run waits for its
    executor threads, and one blocked in readline() would hang the exit until Enter. A
    failure is handed to the loop too: a reader that died silently would leave it waiting forever.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | Exception] = asyncio.Queue()
    readline = line_reader(stdin)

    def pump() -> None:
        while True:
            item: str | Exception
            try:
                item = readline()
            except Exception as err:
                item = err
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: SEL is exiting
                return
            if not isinstance(item, str) or not item:
                return

    threading.Thread(target=pump, name="sel-stdin", daemon=True).start()
    return queue


def line_reader(stdin: TextIO) -> Callable[[], str]:
    """``stdin.readline`` that cannot fail on bytes that are not text: they become U+FFFD.

    The bytes are read and decoded here because the text layer either raises on them (a strict
    UTF-8 stdin) or passes lone surrogates on (a C.UTF-8 locale), which crash the tokenizer later.
    """
    binary = getattr(stdin, "buffer", None)
    if binary is None:  # an in-memory text stream: already decoded
        return lambda: replace_undecodable(stdin.readline())
    encoding = getattr(stdin, "encoding", None) or "utf-8"
    return lambda: binary.readline().decode(encoding, errors="replace")


async def answer(runtime: Runtime, text: str, history: list[Turn], stdout: TextIO, interactive: bool) -> str | None:
    """Send one line to the brain and print the streamed reply; returns the reply (SelError if a model fails)."""
    from sel.domain import IncomingMessage

    msg = IncomingMessage(
        author_id=USER_ID,
        author_name=USER_NAME,
        channel_id=CONVERSATION,
        text=text,
        is_dm=True,
        created_at=time.time(),
    )
    brain = runtime.brain
    decision = brain.decide(msg)
    if interactive:
        stdout.write("SEL> ")
    parts: list[str] = []
    stream = brain.respond(msg, tuple(history), decision)
    try:
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                parts.append(chunk)
                if interactive:
                    stdout.write(chunk)
                    stdout.flush()
    except SelError:
        if interactive:
            stdout.write("\n")
        raise
    reply = "".join(parts).strip()
    stdout.write("\n" if interactive else (reply or "…") + "\n")
    stdout.flush()
    return reply


def command(runtime: Runtime, text: str) -> str:
    """The output of one slash command."""
    name, _, argument = text.partition(" ")
    brain = runtime.brain
    if name == "/mood":
        return brain.mood_report()
    if name == "/mode":
        if not argument.strip():
            return f"mode: {brain.mode.name} (choose with /mode NAME)"
        try:
            return f"mode: {brain.set_mode(argument).name}"
        except SelError as err:
            return f"sel: {err}"
    if name == "/why":
        return brain.why(CONVERSATION)
    if name == "/status":
        return status_text(runtime)
    if name == "/help":
        return HELP
    return f"sel: unknown command {name}; {HELP}"


def status_text(runtime: Runtime) -> str:
    """Mode, mood, counts and which model wrote the last reply."""
    brain_status = runtime.brain.status()
    engine_status = runtime.engine.status()
    lines = [
        f"mode: {brain_status['mode']}  mood: {brain_status['mood']}",
        f"replies: {brain_status['replies']}  memory: {'on' if brain_status['memory'] else 'off'}",
        f"models loaded: {', '.join(engine_status['loaded']) or 'none'}  swaps: {engine_status['swaps']}",
    ]
    last = engine_status["last"]
    if last is not None:
        lines.append(
            f"last reply: {last['slot']} slot, {last['model']}, {last['completion_tokens']} tokens, "
            f"{last['tokens_per_second']} tokens/s; prompt {last['prompt_tokens']} tokens, "
            f"{last['prefilled_tokens']} of them evaluated (the rest reused from the cache)"
        )
    return "\n".join(lines)


def trim_history(history: list[Turn], limit: int) -> None:
    """Drop old turns in one chunk once there are twice ``limit``, so the prompt's start moves rarely."""
    if len(history) > 2 * limit:
        del history[: len(history) - limit]
