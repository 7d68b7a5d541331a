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

The owner's sel.toml is re-read before each line, so an edit applies to the next message; a bad
edit is refused in one line and the last good settings stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sel.config import Settings
from sel.domain import Thought, Turn
from sel.errors import InputError, SelError, render_error
from sel.undecodable import replace_undecodable

if TYPE_CHECKING:
    from sel.app import App
    from sel.app_door import Status

DIM, RESET = "\x1b[2m", "\x1b[0m"  # the model's reasoning, shown faint in a terminal
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


async def chat(settings: Settings, stdin: TextIO, stdout: TextIO, app: App | None = None) -> int:
    """The chat loop. ``app`` defaults to a fresh one built from ``settings`` (and closed at the end)."""
    from sel.app import open_app

    owned = app is None
    if app is None:
        app = open_app(settings)
    session = Session(app, stdout, interactive=stdin.isatty(), history_limit=settings.history_limit)
    try:
        await session.run(read_lines(stdin))
    finally:
        if owned:
            await app.aclose()
    return 0


class Session:
    """One terminal conversation: reads lines, answers messages, runs slash commands."""

    def __init__(self, app: App, stdout: TextIO, *, interactive: bool, history_limit: int) -> None:
        self.app = app
        self.stdout = stdout
        self.interactive = interactive
        self.history_limit = history_limit
        self.history: list[Turn] = []
        self.refused: str | None = None  # the sel.toml edit last refused, said once

    async def run(self, lines: asyncio.Queue[str | Exception]) -> None:
        if self.interactive:
            self.stdout.write("SEL terminal chat — type a message, /help for commands, /quit to leave.\n")
        while True:
            text = await self._next_line(lines)
            if text is None:
                return
            await self._reload_settings()
            if text.startswith("/"):
                if text.split()[0] in ("/quit", "/exit"):
                    return
                self._print(await command(self.app, text))
            elif text:
                await self._message(text)

    async def _next_line(self, lines: asyncio.Queue[str | Exception]) -> str | None:
        """The next line, stripped; None at end of input."""
        if self.interactive:
            self.stdout.write("you> ")
            self.stdout.flush()
        line = await lines.get()
        if isinstance(line, Exception):
            raise InputError(f"cannot read the input any more ({line}); check what is piped into `sel chat`")
        return line.strip() if line else None

    async def _message(self, text: str) -> None:
        try:
            reply = await answer(self.app, text, self.history, self.stdout, self.interactive)
        except SelError as err:
            if not self.interactive:
                raise  # piped: stop with the one-line error and a non-zero exit (see sel.cli)
            # e.g. the coder model cannot be loaded: say so and keep chatting with what works.
            self._print(f"\nsel: {render_error(err)}")
            return
        if reply is not None:
            self.history += [Turn(USER_NAME, text), Turn("SEL", reply, from_sel=True)]
            trim_history(self.history, self.history_limit)

    async def _reload_settings(self) -> None:
        """Take the owner's sel.toml edits before each line, like the bot's watcher; say a refusal once.

        Read per line rather than polled: nothing uses the settings between lines, and a line
        then always sees the file as it was when it was typed.
        """
        refused = await self.app.reload_settings()
        if refused is not None and refused != self.refused:
            self._print(f"sel: edit refused, the last good settings stay: {refused}")
        elif refused is None and self.refused is not None:
            self._print("sel: the settings file is fixed; its settings are in effect again")
        self.refused = refused

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()


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


async def answer(app: App, text: str, history: list[Turn], stdout: TextIO, interactive: bool) -> str | None:
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
    brain = app.brain
    decision = brain.decide(msg)
    writer = ReplyWriter(stdout, interactive)
    stream = brain.respond(msg, tuple(history), decision)
    try:
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                if isinstance(chunk, Thought):  # only there with SEL_SHOW_REASONING=spoiler
                    writer.thought(chunk.text)
                else:
                    writer.text(chunk)
    except SelError:
        if interactive:
            stdout.write("\n")
        raise
    return writer.finish()


class ReplyWriter:
    """Prints one reply: streamed after "SEL> " in a terminal, one line when piped.

    The model's reasoning, when the owner asked to see it, gets lines of its own before the reply:
    dimmed in a terminal, prefixed with "(reasoning)" when piped.
    """

    def __init__(self, stdout: TextIO, interactive: bool) -> None:
        self.stdout = stdout
        self.interactive = interactive
        self.parts: list[str] = []
        self._open = False  # "SEL> " is on the current line

    def thought(self, text: str) -> None:
        if self.interactive:
            self._write(("\n" if self._open else "") + f"{DIM}{text.strip()}{RESET}\n")
            self._open = False
        else:
            self._write("(reasoning) " + " ".join(text.split()) + "\n")

    def text(self, chunk: str) -> None:
        self.parts.append(chunk)
        if self.interactive:
            self._prompt()
            self._write(chunk)

    def finish(self) -> str:
        """End the reply's line; returns the reply's text."""
        reply = "".join(self.parts).strip()
        if self.interactive:
            self._prompt()
        self._write("\n" if self.interactive else (reply or "…") + "\n")
        return reply

    def _prompt(self) -> None:
        if not self._open:
            self._write("SEL> ")
            self._open = True

    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()


async def command(app: App, text: str) -> str:
    """The output of one slash command."""
    name, _, argument = text.partition(" ")
    brain = app.brain
    if name == "/mood":
        return brain.mood_report()
    if name == "/mode":
        if not argument.strip():
            return f"mode: {brain.mode.name} (choose with /mode NAME)"
        try:
            return f"mode: {brain.set_mode(argument).name}"
        except SelError as err:
            return f"sel: {render_error(err)}"
    if name == "/why":
        return brain.why(CONVERSATION)
    if name == "/status":
        return status_text(await app.status())
    if name == "/help":
        return HELP
    return f"sel: unknown command {name}; {HELP}"


def status_text(status: Status) -> str:
    """Mode, mood, counts and which model wrote the last reply."""
    lines = [
        f"mode: {status.mode}  mood: {status.mood}",
        f"replies: {status.replies}  memory: {'on' if status.memory_on else 'off'}",
        f"models loaded: {', '.join(map(str, status.loaded)) or 'none'}  swaps: {status.swaps}",
    ]
    last = status.last
    if last is not None:
        lines.append(
            f"last reply: {last.slot} slot, {Path(last.model_path).name}, {last.completion_tokens} tokens, "
            f"{last.tokens_per_second:.1f} tokens/s; prompt {last.prompt_tokens} tokens, "
            f"{last.prefilled_tokens} of them evaluated (the rest reused from the cache)"
        )
    return "\n".join(lines)


def trim_history(history: list[Turn], limit: int) -> None:
    """Drop old turns in one chunk once there are twice ``limit``, so the prompt's start moves rarely."""
    if len(history) > 2 * limit:
        del history[: len(history) - limit]
