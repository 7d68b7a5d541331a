"""Every payload the stand-in builds conforms to discord.py: its TypedDicts and its real model parsers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands
from typeguard import check_type

from tests.standin import DiscordStandin, payloads
from tests.standin.discord_types import discord_types
from tests.standin.state import MESSAGE_FLAG_VOICE, World

T = discord_types()


def sample_world(standin: DiscordStandin) -> dict[str, Any]:
    """One of each record the factories turn into payloads."""
    world, now = standin.world, standin.clock()
    question = world.create_message(standin.general.id, standin.alice.id, "hi <@1>", now=now)
    svg = world.store_attachment(standin.general.id, "plot.svg", b"<svg/>", now=now)
    reply = world.create_message(
        standin.general.id, world.bot.id, "see plot", now=now, reply_to=question.id, attachments=[svg]
    )
    reply.reactions["✅"] = {world.bot.id, standin.alice.id}
    voice = world.store_attachment(
        standin.general.id, "voice-message.ogg", b"OggS", now=now, duration_secs=1.5, waveform="AAEC"
    )
    voice_message = world.create_message(
        standin.general.id, standin.bob.id, "", now=now, attachments=[voice], flags=MESSAGE_FLAG_VOICE
    )
    sel = {
        "name": "sel",
        "description": "SEL",
        "options": [{"type": 1, "name": "mood", "description": "Show the mood", "options": []}],
    }
    (command,) = world.replace_commands([sel], None, now=now)
    interaction = world.create_interaction(
        standin.general.id, standin.alice.id, "sel", [{"type": 1, "name": "mood", "options": []}], now=now
    )
    response = world.create_message(
        standin.general.id,
        world.bot.id,
        "calm",
        now=now,
        webhook_id=world.application_id,
        interaction_id=interaction.id,
    )
    interaction.original_message_id = response.id
    dm_interaction = world.create_interaction(
        world.dm_channel(standin.bob, now=now).id, standin.bob.id, "sel", [], now=now
    )
    return locals()


def factory_cases() -> list[tuple[str, Callable[[World, dict], Any], Any]]:
    return [
        ("user", lambda w, s: payloads.user_payload(s["standin"].alice), T.user.User),
        ("client user", lambda w, s: payloads.client_user_payload(w.bot), T.user.User),
        ("role", lambda w, s: payloads.role_payload(s["standin"].guild.roles[1]), T.role.Role),
        ("member", lambda w, s: payloads.member_payload(s["standin"].guild, s["standin"].bob), T.member.MemberWithUser),
        ("text channel", lambda w, s: payloads.channel_payload(w, s["standin"].general), T.channel.TextChannel),
        ("voice channel", lambda w, s: payloads.channel_payload(w, s["standin"].lounge), T.channel.VoiceChannel),
        ("thread", lambda w, s: payloads.channel_payload(w, s["standin"].thread), T.threads.Thread),
        (
            "dm channel",
            lambda w, s: payloads.channel_payload(w, w.dm_channel(s["standin"].bob, now=0)),
            T.channel.DMChannel,
        ),
        ("guild", lambda w, s: payloads.guild_payload(w, s["standin"].guild), T.guild.Guild),
        ("attachment", lambda w, s: payloads.attachment_payload(s["voice"]), T.message.Attachment),
        ("message", lambda w, s: payloads.message_payload(w, s["question"]), T.message.Message),
        ("reply with file", lambda w, s: payloads.message_payload(w, s["reply"]), T.message.Message),
        ("voice message", lambda w, s: payloads.message_payload(w, s["voice_message"]), T.message.Message),
        ("interaction reply", lambda w, s: payloads.message_payload(w, s["response"]), T.message.Message),
        (
            "guild interaction",
            lambda w, s: payloads.interaction_payload(w, s["interaction"], upload_limit=10),
            T.interactions.ApplicationCommandInteraction,
        ),
        (
            "dm interaction",
            lambda w, s: payloads.interaction_payload(w, s["dm_interaction"], upload_limit=10),
            T.interactions.ApplicationCommandInteraction,
        ),
        (
            "callback response",
            lambda w, s: payloads.interaction_callback_payload(w, s["interaction"], 4),
            T.interactions.InteractionCallback,
        ),
        ("app info", lambda w, s: payloads.app_info_payload(w), T.appinfo.AppInfo),
        ("app command", lambda w, s: payloads.app_command_payload(w, s["command"]), T.command.ApplicationCommand),
        ("ready", lambda w, s: payloads.ready_payload(w, "session"), T.gateway.ReadyEvent),
        (
            "voice state",
            lambda w, s: payloads.voice_state_payload(w, s["standin"].guild, w.bot, s["standin"].lounge.id, "x"),
            T.voice.GuildVoiceState,
        ),
    ]


@pytest.mark.parametrize(("name", "build", "typed_dict"), factory_cases(), ids=[c[0] for c in factory_cases()])
def test_payload_factory_matches_discord_py_typeddict(name: str, build: Callable, typed_dict: Any) -> None:
    standin = DiscordStandin()
    samples = sample_world(standin)
    check_type(build(standin.world, samples), typed_dict)


def test_typeddict_check_rejects_a_payload_missing_a_required_key() -> None:
    """Guards the guard: the loaded TypedDicts really enforce required keys and value types."""
    standin = DiscordStandin()
    broken = payloads.message_payload(standin.world, sample_world(standin)["question"])
    del broken["timestamp"]
    with pytest.raises(Exception, match="timestamp"):
        check_type(broken, T.message.Message)
    with pytest.raises(Exception, match="content"):
        check_type(
            {**payloads.message_payload(standin.world, sample_world(standin)["question"]), "content": 5},
            T.message.Message,
        )


@pytest.fixture
async def ready_bot(standin: DiscordStandin) -> AsyncIterator[commands.Bot]:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    bot = commands.Bot(command_prefix="!", intents=intents, **standin.client_options())
    async with standin.running(bot):
        yield bot


async def test_guild_create_builds_a_full_discord_guild(standin: DiscordStandin, ready_bot: commands.Bot) -> None:
    guild = ready_bot.get_guild(standin.guild.id)
    assert guild is not None and guild.name == "SEL Lab"
    assert guild.owner_id == standin.alice.id and guild.owner is not None
    assert guild.me is not None and guild.me.guild_permissions.send_messages
    assert guild.me.guild_permissions.attach_files and not guild.me.guild_permissions.administrator
    assert isinstance(guild.get_channel(standin.general.id), discord.TextChannel)
    assert isinstance(guild.get_channel(standin.lounge.id), discord.VoiceChannel)
    thread = guild.get_thread(standin.thread.id)
    assert thread is not None and thread.parent_id == standin.general.id
    assert {m.name for m in guild.members} == {"SEL", "alice", "bob"}
    assert guild.chunked, "every member is in GUILD_CREATE, so discord.py needs no member chunking"
    assert guild.filesize_limit == standin.upload_limit


async def test_message_payloads_parse_into_discord_messages(standin: DiscordStandin, ready_bot: commands.Bot) -> None:
    samples = sample_world(standin)
    state = ready_bot._connection
    channel = ready_bot.get_channel(standin.general.id)
    reply = discord.Message(
        state=state, channel=channel, data=payloads.message_payload(standin.world, samples["reply"])
    )
    assert reply.author == ready_bot.user and reply.content == "see plot"
    assert reply.reference is not None and reply.reference.message_id == samples["question"].id
    assert reply.attachments[0].content_type == "image/svg+xml" and reply.attachments[0].size == 6
    assert reply.reactions[0].count == 2 and reply.reactions[0].me
    voice = discord.Message(
        state=state, channel=channel, data=payloads.message_payload(standin.world, samples["voice_message"])
    )
    assert isinstance(voice.author, discord.Member) and voice.author.id == standin.bob.id
    assert voice.flags.voice and voice.attachments[0].is_voice_message()
    assert voice.attachments[0].duration == 1.5 and voice.attachments[0].waveform
    answer = discord.Message(
        state=state, channel=channel, data=payloads.message_payload(standin.world, samples["response"])
    )
    assert answer.interaction_metadata is not None and answer.interaction_metadata.user.id == standin.alice.id
    assert answer.type is discord.MessageType.chat_input_command and answer.webhook_id == standin.world.application_id


async def test_interaction_payload_parses_into_a_discord_interaction(
    standin: DiscordStandin, ready_bot: commands.Bot
) -> None:
    samples = sample_world(standin)
    data = payloads.interaction_payload(standin.world, samples["interaction"], upload_limit=standin.upload_limit)
    interaction = discord.Interaction(data=data, state=ready_bot._connection)
    assert isinstance(interaction.user, discord.Member) and interaction.user.id == standin.alice.id
    assert interaction.channel is not None and interaction.channel.id == standin.general.id
    assert interaction.filesize_limit == standin.upload_limit
    assert interaction.data is not None and interaction.data["options"][0]["name"] == "mood"
    dm = discord.Interaction(
        data=payloads.interaction_payload(standin.world, samples["dm_interaction"], upload_limit=1),
        state=ready_bot._connection,
    )
    assert isinstance(dm.user, discord.User) and dm.guild_id is None
    assert isinstance(dm.channel, discord.DMChannel)


async def test_app_payloads_parse_into_discord_models(standin: DiscordStandin, ready_bot: commands.Bot) -> None:
    samples = sample_world(standin)
    state = ready_bot._connection
    info = discord.AppInfo(state, payloads.app_info_payload(standin.world))
    assert info.owner.id == standin.alice.id and info.id == standin.world.application_id
    command = app_commands.AppCommand(data=payloads.app_command_payload(standin.world, samples["command"]), state=state)
    assert command.name == "sel" and command.options[0].name == "mood"
    dm = discord.DMChannel(
        me=ready_bot.user, state=state, data=payloads.channel_payload(standin.world, standin.dm_channel(standin.bob))
    )
    assert dm.recipient is not None and dm.recipient.id == standin.bob.id


DISPATCH_TYPES = {
    "READY": lambda: T.gateway.ReadyEvent,
    "GUILD_CREATE": lambda: T.gateway.GuildCreateEvent,
    "MESSAGE_CREATE": lambda: T.message.Message,
    "MESSAGE_UPDATE": lambda: T.message.Message,
    "MESSAGE_DELETE": lambda: T.gateway.MessageDeleteEvent,
    "MESSAGE_REACTION_ADD": lambda: T.gateway.MessageReactionAddEvent,
    "MESSAGE_REACTION_REMOVE": lambda: T.gateway.MessageReactionRemoveEvent,
    "TYPING_START": lambda: T.gateway.TypingStartEvent,
    "INTERACTION_CREATE": lambda: T.gateway.InteractionCreateEvent,
    # Leaving voice sends channel_id null, which GuildVoiceState does not allow; VoiceState does.
    "VOICE_STATE_UPDATE": lambda: T.voice.VoiceState,
    "VOICE_SERVER_UPDATE": lambda: T.gateway.VoiceServerUpdateEvent,
    "GUILD_MEMBERS_CHUNK": lambda: T.gateway.GuildMembersChunkEvent,
}
RESPONSE_TYPES = {
    "/users/@me": lambda: T.user.User,
    "/oauth2/applications/@me": lambda: T.appinfo.AppInfo,
    "/applications/{application_id}/commands": lambda: list[T.command.ApplicationCommand],
    "/channels/{channel_id}": lambda: T.channel.Channel,
    "/channels/{channel_id}/messages": lambda: T.message.Message | list[T.message.Message],
    "/channels/{channel_id}/messages/{message_id}": lambda: T.message.Message,
    "/users/@me/channels": lambda: T.channel.DMChannel,
    "/guilds/{guild_id}/members/{user_id}": lambda: T.member.MemberWithUser,
    "/interactions/{interaction_id}/{token}/callback": lambda: T.interactions.InteractionCallback,
    "/webhooks/{application_id}/{token}": lambda: T.message.Message,
    "/webhooks/{application_id}/{token}/messages/{message_id}": lambda: T.message.Message,
}


async def test_every_dispatch_and_response_of_a_busy_session_matches_discord_py_types(
    standin: DiscordStandin, ready_bot: commands.Bot
) -> None:
    sel = app_commands.Group(name="sel", description="SEL")

    @sel.command(description="Think")
    async def think(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("thought")
        await interaction.edit_original_response(content="thought again")
        await interaction.followup.send("and more")

    ready_bot.tree.add_command(sel)
    await ready_bot.tree.sync()
    await ready_bot.tree.fetch_commands()
    channel = ready_bot.get_channel(standin.general.id)
    await standin.send_message(standin.general.id, standin.alice, "hello")
    await standin.typing_start(standin.general.id, standin.alice)
    sent = await channel.send("reply", file=discord.File(__file__, "notes.py"))
    await sent.edit(content="edited")
    await sent.add_reaction("✅")
    await sent.remove_reaction("✅", ready_bot.user)
    await channel.fetch_message(sent.id)
    _ = [m async for m in channel.history(limit=5)]
    await ready_bot.fetch_channel(standin.general.id)
    await ready_bot.get_guild(standin.guild.id).fetch_member(standin.bob.id)
    await ready_bot.get_guild(standin.guild.id).query_members(user_ids=[standin.bob.id])
    await ready_bot.get_user(standin.bob.id).create_dm()
    await sent.delete()
    interaction = await standin.slash(standin.alice, standin.general.id, "sel", subcommand="think")
    await standin.wait_for(lambda: interaction.followup_ids, what="the second follow-up")
    await standin.join_voice(standin.alice, standin.lounge)
    await standin.leave_voice(standin.alice, standin.guild)
    await standin.idle(100)

    dispatched = [f for f in standin.gateway_log if f.direction == "out" and f.op == 0 and f.t != "RESUMED"]
    unmapped = {f.t for f in dispatched} - set(DISPATCH_TYPES)
    assert not unmapped, f"dispatches without a conformance type: {unmapped}"
    for frame in dispatched:
        check_type(frame.d, DISPATCH_TYPES[frame.t]())
    assert set(DISPATCH_TYPES) <= {f.t for f in dispatched} | {"VOICE_SERVER_UPDATE"}
    checked = 0
    for request in standin.requests:
        if request.status == 200 and request.route in RESPONSE_TYPES:
            check_type(request.response, RESPONSE_TYPES[request.route]())
            checked += 1
    assert {r.route for r in standin.requests if r.status == 200} == set(RESPONSE_TYPES), "every JSON route ran"
    assert checked >= 15
