"""JSON payloads in Discord's v10 shapes, built from the stand-in's records.

Conventions Discord follows and discord.py relies on: snowflakes are strings, timestamps are
ISO-8601, permissions are decimal strings. Every factory here is checked against discord.py's
own models and TypedDicts by tests/test_standin_payloads.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.standin.state import (
    MESSAGE_FLAG_EPHEMERAL,
    AppCommand,
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Interaction,
    Message,
    Role,
    User,
    World,
    snowflake_time,
)
from tests.standin.tls import CDN_HOST, GATEWAY_HOST, MEDIA_HOST

MESSAGE_TYPE_DEFAULT = 0
MESSAGE_TYPE_REPLY = 19
MESSAGE_TYPE_CHAT_INPUT_COMMAND = 20


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def user_payload(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "bot": user.bot,
        "public_flags": 0,
    }


def client_user_payload(user: User) -> dict[str, Any]:
    """The bot's own user, as /users/@me and READY give it."""
    return {**user_payload(user), "verified": True, "mfa_enabled": False, "flags": 0, "email": None, "locale": "en-US"}


def role_payload(role: Role) -> dict[str, Any]:
    return {
        "id": str(role.id),
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member_payload(guild: Guild, user: User, *, with_user: bool = True) -> dict[str, Any]:
    """A guild member; message payloads carry it without `user` (the author is beside it)."""
    data: dict[str, Any] = {
        "roles": [str(role_id) for role_id in guild.member_roles.get(user.id, [])],
        "joined_at": iso(guild.joined_at),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "premium_since": None,
    }
    if with_user:
        data["user"] = user_payload(user)
    return data


def permissions_of(guild: Guild, user_id: int) -> int:
    held = set(guild.member_roles.get(user_id, [])) | {guild.id}
    value = 0
    for role in guild.roles:
        if role.id in held:
            value |= role.permissions
    return value


def channel_payload(world: World, channel: Channel) -> dict[str, Any]:
    base: dict[str, Any] = {"id": str(channel.id), "type": int(channel.type), "name": channel.name}
    last = world.channel_messages(channel.id)
    last_message_id = str(last[-1].id) if last else None
    if channel.type is ChannelType.DM:
        recipients = [user_payload(world.users[uid]) for uid in channel.recipient_ids]
        return {**base, "last_message_id": last_message_id, "recipients": recipients, "flags": 0}
    base.update(guild_id=str(channel.guild_id), nsfw=False, last_message_id=last_message_id, rate_limit_per_user=0)
    if channel.type is ChannelType.PUBLIC_THREAD:
        return {
            **base,
            "parent_id": str(channel.parent_id),
            "owner_id": str(channel.owner_id),
            "message_count": len(last),
            "member_count": 1,
            "total_message_sent": len(last),
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(snowflake_time(channel.id)),
                "locked": False,
            },
        }
    base.update(position=channel.position, permission_overwrites=[], parent_id=None, topic="", flags=0)
    if channel.type is ChannelType.VOICE:
        base.update(bitrate=64000, user_limit=0, rtc_region=None)
    return base


def guild_payload(world: World, guild: Guild, voice_states: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The full GUILD_CREATE body: channels, threads, roles, every member (so discord.py needs no chunking)."""
    channels = [world.channels[cid] for cid in guild.channel_ids]
    members = [member_payload(guild, world.users[uid]) for uid in guild.member_roles]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": guild.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "features": [],
        "emojis": [],
        "stickers": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "incidents_data": None,
        "roles": [role_payload(role) for role in guild.roles],
        "channels": [channel_payload(world, c) for c in channels if c.type is not ChannelType.PUBLIC_THREAD],
        "threads": [channel_payload(world, c) for c in channels if c.type is ChannelType.PUBLIC_THREAD],
        "members": members,
        "member_count": len(members),
        "voice_states": voice_states or [],
        "presences": [],
        "large": False,
        "unavailable": False,
        "joined_at": iso(guild.joined_at),
        "max_members": 500000,
        "max_video_channel_users": 25,
    }


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": len(attachment.data),
        "url": f"https://{CDN_HOST}{attachment.path}",
        "proxy_url": f"https://{MEDIA_HOST}{attachment.path}",
        "content_type": attachment.content_type,
    }
    if attachment.description is not None:
        data["description"] = attachment.description
    if attachment.duration_secs is not None:
        data["duration_secs"] = attachment.duration_secs
    if attachment.waveform is not None:
        data["waveform"] = attachment.waveform
    return data


def message_payload(world: World, message: Message, *, with_reference: bool = True) -> dict[str, Any]:
    author = world.users[message.author_id]
    guild = world.guild_of(message.channel_id)
    if message.interaction_id is not None:
        kind = MESSAGE_TYPE_CHAT_INPUT_COMMAND
    elif message.reply_to is not None:
        kind = MESSAGE_TYPE_REPLY
    else:
        kind = MESSAGE_TYPE_DEFAULT
    data: dict[str, Any] = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "type": kind,
        "content": message.content,
        "author": user_payload(author),
        "timestamp": iso(message.created_at),
        "edited_timestamp": iso(message.edited_at) if message.edited_at is not None else None,
        "tts": message.tts,
        "mention_everyone": False,
        "mentions": [user_payload(world.users[uid]) for uid in message.mention_ids],
        "mention_roles": [],
        "attachments": [attachment_payload(a) for a in message.attachments],
        "embeds": list(message.embeds),
        "components": [],
        "pinned": False,
        "flags": message.flags,
    }
    if message.reactions:
        data["reactions"] = [
            _reaction_payload(emoji, users, world.bot.id) for emoji, users in message.reactions.items()
        ]
    if message.nonce is not None:
        data["nonce"] = message.nonce
    if guild is not None:
        data["guild_id"] = str(guild.id)
        if message.webhook_id is None:
            data["member"] = member_payload(guild, author, with_user=False)
    if message.webhook_id is not None:
        data["webhook_id"] = str(message.webhook_id)
        data["application_id"] = str(message.webhook_id)
    if message.interaction_id is not None:
        data["interaction_metadata"] = _interaction_metadata(world, world.interactions[message.interaction_id])
    if message.reply_to is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": str(message.reply_to),
            "channel_id": str(message.channel_id),
        }
        if guild is not None:
            data["message_reference"]["guild_id"] = str(guild.id)
        if with_reference:
            referenced = world.messages.get(message.reply_to)
            alive = referenced is not None and not referenced.deleted
            data["referenced_message"] = message_payload(world, referenced, with_reference=False) if alive else None
    return data


def _reaction_payload(emoji: str, users: set[int], bot_id: int) -> dict[str, Any]:
    return {
        "count": len(users),
        "me": bot_id in users,
        "me_burst": False,
        "emoji": {"id": None, "name": emoji},
        "count_details": {"burst": 0, "normal": len(users)},
        "burst_colors": [],
    }


def _interaction_metadata(world: World, interaction: Interaction) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(interaction.id),
        "type": 2,
        "user": user_payload(world.users[interaction.user_id]),
        "authorizing_integration_owners": {"0": str(interaction.guild_id)} if interaction.guild_id else {},
    }
    return data


def interaction_payload(world: World, interaction: Interaction, *, upload_limit: int) -> dict[str, Any]:
    """An application-command INTERACTION_CREATE for a chat-input (slash) command."""
    channel = world.channels[interaction.channel_id]
    user = world.users[interaction.user_id]
    command = world.command_named(interaction.command_name, interaction.guild_id)
    data: dict[str, Any] = {
        "id": str(interaction.id),
        "application_id": str(interaction.application_id),
        "type": 2,
        "token": interaction.token,
        "version": 1,
        "data": {
            "id": str(command.id if command else interaction.id),
            "name": interaction.command_name,
            "type": 1,
            "options": interaction.options,
        },
        "channel_id": str(channel.id),
        "channel": channel_payload(world, channel),
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": upload_limit,
    }
    guild = world.guild_of(channel.id)
    if guild is not None:
        data["data"]["guild_id"] = str(guild.id)
        data["guild_id"] = str(guild.id)
        data["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
        data["guild_locale"] = "en-US"
        data["member"] = {**member_payload(guild, user), "permissions": str(permissions_of(guild, user.id))}
        data["app_permissions"] = str(permissions_of(guild, world.bot.id))
        data["authorizing_integration_owners"] = {"0": str(guild.id)}
        data["context"] = 0
    else:
        data["user"] = user_payload(user)
        data["authorizing_integration_owners"] = {"1": str(user.id)}
        data["context"] = 1
    return data


def interaction_callback_payload(world: World, interaction: Interaction, callback_type: int) -> dict[str, Any]:
    """The body of POST /interactions/{id}/{token}/callback?with_response=1."""
    message = world.messages[interaction.original_message_id] if interaction.original_message_id else None
    summary: dict[str, Any] = {"id": str(interaction.id), "type": 2}
    resource: dict[str, Any] = {"type": callback_type}
    if message is not None:
        summary["response_message_id"] = str(message.id)
        summary["response_message_loading"] = callback_type == 5
        summary["response_message_ephemeral"] = bool(message.flags & MESSAGE_FLAG_EPHEMERAL)
        resource["message"] = message_payload(world, message)
    return {"interaction": summary, "resource": resource}


def app_info_payload(world: World) -> dict[str, Any]:
    return {
        "id": str(world.application_id),
        "name": world.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "verify_key": "0" * 64,
        "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED: the intent is usable without review
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": user_payload(world.users[world.owner_id]),
        "rpc_origins": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
    }


def app_command_payload(world: World, command: AppCommand) -> dict[str, Any]:
    """What Discord stores for a synced command: the request body plus id, application_id and version."""
    defaults = {"type": 1, "contexts": [0, 1, 2], "integration_types": [0], "nsfw": False}
    # A null in the request means "Discord's default", which Discord fills in on the way back.
    given = {key: value for key, value in command.payload.items() if value is not None or key not in defaults}
    data = {
        "default_member_permissions": None,
        **defaults,
        **given,
        "id": str(command.id),
        "application_id": str(world.application_id),
        "version": str(command.version),
    }
    data.setdefault("description", "")
    if command.guild_id is not None:
        data["guild_id"] = str(command.guild_id)
    return data


def ready_payload(
    world: World, session_id: str, *, shard: tuple[int, int] = (0, 1), guilds: list[Guild] | None = None
) -> dict[str, Any]:
    """READY for a session: the guilds of its shard (all of them without sharding), still unavailable."""
    shown = world.guilds.values() if guilds is None else guilds
    return {
        "v": 10,
        "user": client_user_payload(world.bot),
        "guilds": [{"id": str(guild.id), "unavailable": True} for guild in shown],
        "session_id": session_id,
        "resume_gateway_url": f"wss://{GATEWAY_HOST}",
        "shard": list(shard),
        "application": {"id": str(world.application_id), "flags": 1 << 19},
    }


def voice_state_payload(
    world: World, guild: Guild, user: User, channel_id: int | None, session_id: str
) -> dict[str, Any]:
    return {
        "guild_id": str(guild.id),
        "channel_id": str(channel_id) if channel_id is not None else None,
        "user_id": str(user.id),
        "member": member_payload(guild, user),
        "session_id": session_id,
        "deaf": False,
        "mute": False,
        "self_deaf": False,
        "self_mute": False,
        "self_video": False,
        "suppress": False,
    }


def error_payload(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        data["errors"] = errors
    return data
