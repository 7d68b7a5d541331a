"""Scenarios with a real, unmodified discord.py `commands.Bot` talking to the stand-in."""

from __future__ import annotations

import asyncio
import io
import time

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.standin import BucketRule, DiscordStandin, FileSpec, RateLimitPolicy

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'


class NoIdentifyDelayBot(commands.Bot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before every re-IDENTIFY (Discord's identify limit); tests need not."""


def make_bot(
    standin: DiscordStandin, *, intents: discord.Intents | None = None, bot_class: type[commands.Bot] = commands.Bot
) -> commands.Bot:
    """A minimal bot with a prefix command, an attachment reader and a /sel group."""
    if intents is None:
        intents = discord.Intents.default()
        intents.message_content = True
    bot = bot_class(command_prefix="!", intents=intents, **standin.client_options())

    @bot.command()
    async def ping(ctx: commands.Context) -> None:
        await ctx.reply("pong")

    @bot.command()
    async def measure(ctx: commands.Context) -> None:
        data = await ctx.message.attachments[0].read()
        await ctx.send(f"{len(data)} bytes, voice={ctx.message.attachments[0].is_voice_message()}")

    sel = app_commands.Group(name="sel", description="SEL")

    @sel.command(description="Show the mood")
    async def mood(interaction: discord.Interaction, detail: bool = False) -> None:
        await interaction.response.send_message(f"calm (detail={detail})")

    @sel.command(description="Think before answering")
    async def think(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"thought about {prompt}")
        await interaction.followup.send("one more thing")

    bot.tree.add_command(sel)
    return bot


async def test_login_reaches_on_ready_fast_over_compressed_gateway(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    started = time.perf_counter()
    async with standin.running(bot):
        elapsed = time.perf_counter() - started
        assert bot.user is not None and bot.user.id == standin.world.bot.id
        assert bot.application_id == standin.world.application_id
        assert [g.id for g in bot.guilds] == [standin.guild.id]
    assert elapsed < 0.5, f"login -> on_ready took {elapsed:.2f}s"
    assert standin.gateway.connect_queries[0]["compress"] == "zlib-stream"
    assert standin.gateway.identifies[0]["intents"] == bot.intents.value


async def test_a_bad_token_is_a_login_failure(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()


async def test_an_unapproved_privileged_intent_stops_the_bot(standin: DiscordStandin) -> None:
    standin.approved_intents = 0
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with standin.running(make_bot(standin)):
            pass


async def test_tree_sync_round_trips_the_sel_group(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        synced = await bot.tree.sync()
        fetched = await bot.tree.fetch_commands()
    assert [c.name for c in synced] == ["sel"] and [c.id for c in fetched] == [c.id for c in synced]
    assert {o.name for o in synced[0].options} == {"mood", "think"}


async def test_prefix_command_gets_a_reply_echoed_back_over_the_gateway(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        own_message = asyncio.create_task(bot.wait_for("message", check=lambda m: m.author == bot.user, timeout=5))
        asked = await standin.send_message(standin.general.id, standin.alice, "!ping")
        echoed = await own_message
    (reply,) = standin.bot_messages(standin.general.id)
    assert reply.content == "pong" and reply.reply_to == int(asked["id"])
    assert echoed.id == reply.id and echoed.reference is not None


async def test_prefix_command_in_a_dm_is_answered_in_the_dm(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    dm = standin.dm_channel(standin.bob)
    async with standin.running(bot):
        await standin.send_message(dm.id, standin.bob, "!ping")
        (reply,) = await standin.wait_for(lambda: standin.bot_messages(dm.id), what="a pong in the DM")
    assert reply.content == "pong" and standin.bot_messages(standin.general.id) == []


async def test_streaming_edits_survive_a_hidden_rate_limit_by_retrying(standin: DiscordStandin) -> None:
    standin.set_rate_limits(RateLimitPolicy(message_edit=BucketRule(2, 0.3, announced=False)))
    bot = make_bot(standin)
    async with standin.running(bot):
        message = await bot.get_channel(standin.general.id).send("…")
        for text in ("Hel", "Hello", "Hello wor", "Hello world"):
            await message.edit(content=text)
    (stored,) = standin.bot_messages(standin.general.id)
    assert [r.content for r in stored.history] == ["…", "Hel", "Hello", "Hello wor", "Hello world"]
    assert standin.ratelimited, "the hidden limit should have produced at least one 429"
    retried = [r.status for r in standin.requests_to("PATCH", "/channels/*") if r not in standin.ratelimited]
    assert retried == [200] * 4, f"each of the four edits should have gone through once: {retried}"


async def test_announced_limits_make_discord_py_throttle_itself_without_429s(standin: DiscordStandin) -> None:
    standin.set_rate_limits(RateLimitPolicy(message_create=BucketRule(2, 0.3)))
    bot = make_bot(standin)
    async with standin.running(bot):
        channel = bot.get_channel(standin.general.id)
        for n in range(5):
            await channel.send(str(n))
    assert [m.content for m in standin.bot_messages(standin.general.id)] == ["0", "1", "2", "3", "4"]
    assert standin.ratelimited == []


async def test_2001_characters_raise_http_exception_50035(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        with pytest.raises(discord.HTTPException) as raised:
            await bot.get_channel(standin.general.id).send("x" * 2001)
    assert (raised.value.status, raised.value.code) == (400, 50035)


async def test_bot_upload_is_stored_and_readable_back_through_the_cdn(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        sent = await bot.get_channel(standin.general.id).send("plot", file=discord.File(io.BytesIO(SVG), "plot.svg"))
        downloaded = await sent.attachments[0].read()
    (stored,) = standin.bot_messages(standin.general.id)
    assert stored.attachments[0].data == SVG == downloaded
    assert sent.attachments[0].content_type == "image/svg+xml"
    (upload,) = standin.requests_to("POST", "/channels/*/messages")
    assert [f.field for f in upload.files] == ["files[0]"] and upload.json["content"] == "plot"


async def test_user_voice_message_is_read_through_the_cdn(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    ogg = b"OggS" + bytes(200)
    async with standin.running(bot):
        await standin.send_message(
            standin.general.id,
            standin.bob,
            "!measure",
            attachments=[FileSpec("voice-message.ogg", ogg, duration_secs=1.0, waveform="AAAA")],
            flags=8192,
        )
        (answer,) = await standin.wait_for(lambda: standin.bot_messages(standin.general.id))
    assert answer.content == f"{len(ogg)} bytes, voice=True"


async def test_slash_command_round_trip(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await bot.tree.sync()
        interaction = await standin.slash(
            standin.alice, standin.general.id, "sel", subcommand="mood", options={"detail": True}
        )
        response = await standin.wait_for(lambda: standin.interaction_response(interaction), what="the /sel mood reply")
    assert response.content == "calm (detail=True)" and interaction.response_type == 4
    (callback,) = standin.requests_to("POST", "/interactions/*")
    assert callback.query == {"with_response": "1"} and not callback.authorized


async def test_deferred_slash_command_fills_the_thinking_message_then_follows_up(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await bot.tree.sync()
        interaction = await standin.slash(
            standin.bob, standin.general.id, "sel", subcommand="think", options={"prompt": "tea"}
        )
        await standin.wait_for(lambda: len(standin.bot_messages(standin.general.id)) == 2, what="two replies")
    first, second = standin.bot_messages(standin.general.id)
    assert interaction.response_type == 5 and standin.interaction_response(interaction) == first
    assert (first.content, first.edits, first.flags) == ("thought about tea", [], 0)
    assert second.content == "one more thing"


async def test_bot_keeps_answering_after_the_gateway_drops_and_resumes(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await standin.drop_gateway()
        await standin.send_message(standin.general.id, standin.alice, "!ping")
        await standin.wait_for(lambda: standin.gateway.resumes, what="a RESUME")
        await standin.wait_for(lambda: standin.bot_messages(standin.general.id), what="a pong after the resume")
    assert len(standin.gateway.identifies) == 1, "a resumable drop should not need a new IDENTIFY"


async def test_bot_re_identifies_when_its_session_cannot_be_resumed(standin: DiscordStandin) -> None:
    bot = make_bot(standin, bot_class=NoIdentifyDelayBot)

    async with standin.running(bot):
        await standin.drop_gateway(resumable=False)
        await standin.wait_for(lambda: len(standin.gateway.identifies) == 2, what="a second IDENTIFY")
        await standin.wait_for(lambda: any(f.t == "GUILD_CREATE" for f in standin.gateway_log[-3:]))
        await standin.send_message(standin.general.id, standin.alice, "!ping")
        await standin.wait_for(lambda: standin.bot_messages(standin.general.id), what="a pong after re-identifying")


@pytest.mark.parametrize(
    ("knob", "expect_resume"),
    [("send_reconnect", True), ("invalidate_session", False)],
    ids=["op7-reconnect-resumes", "op9-invalid-session-re-identifies"],
)
async def test_bot_follows_gateway_control_opcodes(standin: DiscordStandin, knob: str, expect_resume: bool) -> None:
    bot = make_bot(standin, bot_class=NoIdentifyDelayBot)

    async with standin.running(bot):
        await getattr(standin, knob)()
        if expect_resume:
            await standin.wait_for(lambda: standin.gateway.resumes, what="a RESUME after op 7")
        else:
            await standin.wait_for(lambda: len(standin.gateway.identifies) == 2, what="a new IDENTIFY after op 9")
        await standin.send_message(standin.general.id, standin.alice, "!ping")
        await standin.wait_for(lambda: standin.bot_messages(standin.general.id), what="a pong afterwards")
    assert len(standin.gateway.identifies) == (1 if expect_resume else 2)
