"""discord.py's message cache stays small under SEL: SEL reads its messages from raw events and its own
history, so the cache only costs memory (it was 1000 messages, filling for a quarter of an hour of the soak)."""

from __future__ import annotations

from typing import Any

from sel.frontends.discord.bot import MESSAGE_CACHE
from tests.discord_fixtures import handled
from tests.standin.server import DiscordStandin


async def test_the_message_cache_stays_bounded_however_much_is_written(sel_env: Any, standin: DiscordStandin) -> None:
    bot = await sel_env()
    sent = [
        await standin.send_message(standin.random.id, standin.bob, f"chatter number {i}")
        for i in range(MESSAGE_CACHE + 30)
    ]
    await handled(standin, bot, *sent)
    cached = len(bot.cached_messages)
    assert cached == MESSAGE_CACHE, f"{len(sent)} messages seen, {cached} cached: the cache should hold {MESSAGE_CACHE}"
    assert bot.cached_messages[-1].id == int(sent[-1]["id"]), "the cache should keep the newest messages"
