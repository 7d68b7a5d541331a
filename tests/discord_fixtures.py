"""Fixtures and helpers for SEL's end-to-end Discord tests (a pytest plugin, see conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from sel.app import open_app
from sel.config import Settings
from sel.domain import PromptPlan
from sel.frontends.discord.bot import SelBot
from sel.frontends.discord.stream import MARKER
from tests.standin.server import DiscordStandin


@pytest.fixture
async def sel_env(standin: DiscordStandin, make_settings: Callable[..., Settings]) -> AsyncIterator[Any]:
    """Start SEL against the stand-in: ``await sel_env(**setting_overrides)`` returns the running SelBot."""
    stack = contextlib.AsyncExitStack()

    async def start(*, clock: Callable[[], float] = time.time, **env: str) -> SelBot:
        env = {"DISCORD_TOKEN": standin.token, "SEL_MAX_NEW_TOKENS": "16", **env}
        settings = make_settings(**env)
        app = await asyncio.to_thread(open_app, settings)
        stack.push_async_callback(app.aclose)
        bot = SelBot(app, settings.discord, clock=clock, **standin.client_options())
        HandledMessages.install(bot, standin)
        await stack.enter_async_context(standin.running(bot))
        return bot

    async with stack:
        yield start


def mention(bot: SelBot) -> str:
    assert bot.user is not None
    return f"<@{bot.user.id}>"


async def replies_in(standin: DiscordStandin, channel_id: int, count: int = 1, timeout: float = 20.0) -> list[Any]:
    """Wait until SEL has finished ``count`` replies (no in-progress marker left) in a channel."""

    def done() -> list[Any] | None:
        msgs = standin.bot_messages(channel_id)
        finished = [m for m in msgs if not m.content.endswith(MARKER.strip())]
        return msgs if len(finished) >= count and len(finished) == len(msgs) else None

    return await standin.wait_for(done, timeout, what=f"{count} finished SEL replies in channel {channel_id}")


async def prefix(standin: DiscordStandin, author: Any, text: str, channel: int | None = None) -> str:
    ch = channel or standin.general.id
    before = len(standin.bot_messages(ch))
    await standin.send_message(ch, author, text)
    msgs = await standin.wait_for(lambda: standin.bot_messages(ch)[before:], 15, what=f"an answer to {text!r}")
    return msgs[-1].content


async def slash(standin: DiscordStandin, author: Any, sub: str, **options: Any) -> Any:
    interaction = await standin.slash(author, standin.general.id, "sel", subcommand=sub, options=options)
    return await standin.wait_for(
        lambda: (m := standin.interaction_response(interaction)) is not None and m.content is not None and m,
        15,
        what=f"/sel {sub} to be answered",
    )


# ---- knowing that SEL has dealt with a message -----------------------------------------------


class HandledMessages:
    """Wraps the conversation Cog's ``on_message`` to note each message whose handling has finished.

    discord.py runs every gateway event in its own task, so a later message can be answered
    while an earlier one is still being handled (for instance while SEL reads the channel's
    history on first contact): an answer to a later message, or a quiet moment on the wire,
    proves nothing about an earlier one. The end of ``on_message`` does: by then SEL has either
    answered (commands, refusals), queued a reply in its lanes, or decided to stay silent.
    """

    def __init__(self, handler: Callable[[discord.Message], Awaitable[None]], notify: Callable[[], None]) -> None:
        self.handler = handler
        self.notify = notify
        self.ids: set[int] = set()
        self.failed: dict[int, BaseException] = {}

    @classmethod
    def install(cls, bot: SelBot, standin: DiscordStandin) -> HandledMessages:
        """Call before the bot starts: adding the Cog registers the listener it finds on the instance."""
        cog = bot.conversation
        tracker = cls(cog.on_message, standin.notify)
        cog.on_message = tracker.handle  # type: ignore[method-assign]
        return tracker

    @staticmethod
    def of(bot: SelBot) -> HandledMessages:
        tracker = getattr(bot.conversation.on_message, "__self__", None)
        assert isinstance(tracker, HandledMessages), "start the bot with the sel_env fixture"
        return tracker

    async def handle(self, message: discord.Message) -> None:
        try:
            await self.handler(message)
        except BaseException as err:
            self.failed[message.id] = err
            raise
        finally:
            self.ids.add(message.id)
            self.notify()


async def handled(standin: DiscordStandin, bot: SelBot, *sent: dict[str, Any], timeout: float = 20.0) -> None:
    """Wait until SEL has finished handling each of the ``sent`` messages (payloads from send_message)."""
    tracker = HandledMessages.of(bot)
    ids = [int(s["id"]) for s in sent]
    await standin.wait_for(lambda: all(i in tracker.ids for i in ids), timeout, what=f"SEL to handle messages {ids}")
    failures = {i: tracker.failed[i] for i in ids if i in tracker.failed}
    assert not failures, f"SEL failed while handling messages: {failures!r}"


async def assert_silent_after(standin: DiscordStandin, bot: SelBot, *sent: dict[str, Any]) -> None:
    """Assert SEL stayed silent about the ``sent`` messages, once it has provably handled them.

    After handling, a reply SEL chose to give is running or waiting in its lanes: let it finish
    so that it shows. Then nothing may have appeared in those channels since the first of the
    messages was sent: no message (reply, refusal or command answer) and no typing indicator.
    """
    await handled(standin, bot, *sent)
    channels = {int(s["channel_id"]) for s in sent}
    lanes = bot.conversation.lanes
    await standin.wait_for(
        lambda: not channels & (lanes.running.keys() | lanes.pending.keys()),
        60,
        what="a reply SEL queued for a message it should have ignored to finish",
    )
    first = standin.world.messages[min(int(s["id"]) for s in sent)]
    said = [m for c in channels for m in standin.bot_messages(c) if m.id > first.id]
    assert not said, f"SEL should have stayed silent but said: {[m.content for m in said]}"
    typing = [r.path for r in standin.requests if r.path.endswith("/typing") and r.at >= first.created_at]
    typing = [p for p in typing if int(p.split("/")[2]) in channels]
    assert not typing, f"SEL started typing where it should have stayed silent: {typing}"


# ---- what SEL asked its model ------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    """One call to the engine: which model slot, for which conversation, with which prompt plan."""

    slot: str
    conversation: str
    plan: PromptPlan

    @property
    def texts(self) -> list[str]:
        """The texts of the plan's turns, oldest first (the message being answered last)."""
        return [t.text for t in self.plan.turns]


class EngineSpy:
    """Records every prompt the real engine is asked to continue, and can hold generations back.

    It replaces the engine's ``stream`` on the instance and delegates to the original, so the
    real llama.cpp still generates every reply. ``hold()`` makes new generations wait (SEL is
    then busy in that channel for as long as the test needs) until ``release()``.
    """

    def __init__(self, engine: Any) -> None:
        self.generations: list[Generation] = []
        self.started = 0
        self._stream = engine.stream
        self._open = asyncio.Event()
        self._open.set()
        engine.stream = self.stream

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def last(self, conversation: int | None = None) -> Generation:
        found = [g for g in self.generations if conversation is None or g.conversation == str(conversation)]
        assert found, f"SEL asked its model nothing (conversation {conversation})"
        return found[-1]

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        self.generations.append(Generation(slot, conversation, plan))
        await self._open.wait()
        self.started += 1
        async with contextlib.aclosing(self._stream(slot, plan, conversation=conversation, max_tokens=max_tokens)) as s:
            async for chunk in s:
                yield chunk


def spy_on_engine(bot: SelBot) -> EngineSpy:
    """Record (and optionally hold) what SEL asks its real model from now on."""
    return EngineSpy(bot.app.engine)
