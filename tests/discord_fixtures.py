"""Fixtures and helpers for SEL's end-to-end Discord tests (a pytest plugin, see conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sel.config import Settings
from sel.frontends.discord_bot import SelBot
from sel.frontends.discord_stream import MARKER
from sel.runtime import open_runtime
from tests.standin.server import DiscordStandin


@pytest.fixture
async def sel_env(standin: DiscordStandin, make_settings: Callable[..., Settings]) -> AsyncIterator[Any]:
    """Start SEL against the stand-in: ``await sel_env(**setting_overrides)`` returns the running SelBot."""
    stack = contextlib.AsyncExitStack()

    async def start(*, clock: Callable[[], float] = time.time, **env: str) -> SelBot:
        env = {"DISCORD_TOKEN": standin.token, "SEL_MAX_NEW_TOKENS": "16", **env}
        settings = make_settings(**env)
        runtime = await asyncio.to_thread(open_runtime, settings)
        stack.push_async_callback(runtime.aclose)
        bot = SelBot(settings, runtime, clock=clock, **standin.client_options())
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
