"""Discord sharding (SEL_SHARDS): the setting, and SEL connected over two shards to the stand-in, whose
gateway splits the guilds between the shards by Discord's formula ((guild_id >> 22) % count).

discord.py waits 5 seconds between two shards' IDENTIFYs, as Discord asks, so these bots take longer
to be ready than a single connection does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from discord.ext import commands

from sel.app import open_app
from sel.config import Settings, load_settings
from sel.errors import ConfigError
from sel.frontends.discord.bot import SelBot, ShardedSelBot, make_bot
from tests.discord_fixtures import mention, replies_in
from tests.standin.gateway import shard_of
from tests.standin.server import DiscordStandin
from tests.standin.state import DISCORD_EPOCH_MS, Guild

SHARDED_READY_TIMEOUT = 60.0


def test_sel_shards_parses_off_a_count_and_auto() -> None:
    assert load_settings({}).discord.shards == 0
    assert load_settings({"SEL_SHARDS": "0"}).discord.shards == 0
    assert load_settings({"SEL_SHARDS": "2"}).discord.shards == 2
    assert load_settings({"SEL_SHARDS": "Auto"}).discord.shards is None
    with pytest.raises(ConfigError, match=r"^SEL_SHARDS='some' is not a shard count; set it to auto or a number"):
        load_settings({"SEL_SHARDS": "some"})


@pytest.fixture
async def sharded_sel(
    standin: DiscordStandin, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., object]]:
    """Start SEL against the stand-in with the given settings; its bot is built as `sel discord` builds it."""
    stack = contextlib.AsyncExitStack()

    async def start(**env: str) -> SelBot:
        settings = make_settings(DISCORD_TOKEN=standin.token, SEL_MAX_NEW_TOKENS="8", **env)
        app = await asyncio.to_thread(open_app, settings, with_memory=False)
        stack.push_async_callback(app.aclose)
        bot = make_bot(app, settings.discord, **standin.client_options())
        await stack.enter_async_context(standin.running(bot, timeout=SHARDED_READY_TIMEOUT))
        return bot

    async with stack:
        yield start


def second_guild_on_the_other_shard(standin: DiscordStandin) -> Guild:
    """A guild whose id lands on shard 1 of 2 when the default guild is on shard 0, or the other way round."""
    wanted = 1 - shard_of(standin.guild.id, 2)
    ms = int(standin.clock() * 1000) + 1
    if (ms - DISCORD_EPOCH_MS) % 2 != wanted:
        ms += 1
    guild = standin.world.add_guild("Second Lab", standin.alice, now=(ms + 0.5) / 1000)
    assert shard_of(guild.id, 2) == wanted
    standin.add_member(guild, standin.bob)
    return guild


async def test_with_two_shards_sel_identifies_twice_and_answers_in_every_guild_and_dms(sharded_sel, standin) -> None:
    other = second_guild_on_the_other_shard(standin)
    lobby = standin.add_text_channel(other, "lobby")
    bot = await sharded_sel(SEL_SHARDS="2")
    assert isinstance(bot, ShardedSelBot) and isinstance(bot, commands.AutoShardedBot)
    assert sorted(tuple(i["shard"]) for i in standin.gateway.identifies) == [(0, 2), (1, 2)]
    assert {g.id for g in bot.guilds} == {standin.guild.id, other.id}, "each shard brought its own guild"
    for channel in (standin.general.id, lobby.id):
        await standin.send_message(channel, standin.alice, f"{mention(bot)} hi there")
    dm = standin.dm_channel(standin.bob)
    await standin.send_message(dm.id, standin.bob, "hey, are you around?")
    for channel in (standin.general.id, lobby.id, dm.id):
        assert (await replies_in(standin, channel, timeout=60))[0].content.strip()
    # Each message came over the shard that carries its guild (a DM over shard 0).
    carried = {
        shard: {int(d["channel_id"]) for _, event, d in session.sent if event == "MESSAGE_CREATE"}
        for shard, session in standin.gateway.shards.items()
    }
    assert lobby.id in carried[shard_of(other.id, 2)] and dm.id in carried[0], carried
    assert standin.general.id in carried[shard_of(standin.guild.id, 2)], carried
    assert [g.shard_id for g in (bot.get_guild(standin.guild.id), bot.get_guild(other.id))] == [
        shard_of(standin.guild.id, 2),
        shard_of(other.id, 2),
    ]


async def test_auto_uses_the_shard_count_discord_recommends(sharded_sel, standin) -> None:
    standin.recommended_shards = 2
    bot = await sharded_sel(SEL_SHARDS="auto")
    assert bot.shard_count == 2
    assert sorted(tuple(i["shard"]) for i in standin.gateway.identifies) == [(0, 2), (1, 2)]


async def test_unset_keeps_one_plain_connection(sharded_sel, standin) -> None:
    bot = await sharded_sel()
    assert type(bot) is SelBot
    assert [i.get("shard") for i in standin.gateway.identifies] in ([None], [[0, 1]])
