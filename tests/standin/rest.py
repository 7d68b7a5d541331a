"""The REST routes a bot uses, under https://discord.com/api/v10.

Each handler takes the stand-in and a parsed `Call` and returns a `Reply` or raises `ApiError`.
Writes are echoed over the gateway as Discord does (MESSAGE_CREATE/UPDATE/DELETE, reactions).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.standin import payloads
from tests.standin.state import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    Channel,
    Interaction,
    Message,
    Perm,
    Revision,
)
from tests.standin.validation import (
    ALREADY_ACKNOWLEDGED,
    CANNOT_DM,
    DM_ACTION,
    MISSING_PERMISSIONS,
    NOT_AUTHOR,
    UNKNOWN_CHANNEL,
    UNKNOWN_EMOJI,
    UNKNOWN_INTERACTION,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    ApiError,
    UploadedFile,
    check_commands,
    check_message_body,
    check_not_empty,
    field_error,
)

if TYPE_CHECKING:
    from tests.standin.server import DiscordStandin

INTERACTION_TOKEN_LIFETIME = 15 * 60.0
HISTORY_DEFAULT_LIMIT = 50


@dataclass
class Call:
    """A REST request after routing and body parsing."""

    params: dict[str, str]
    query: Mapping[str, str]
    json: Any
    files: list[UploadedFile]
    now: float


@dataclass
class Reply:
    status: int = 200
    body: Any = None


Handler = Callable[["DiscordStandin", Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    auth: bool = True
    bucket: str | None = None
    major: str = ""

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        parts = self.template.strip("/").split("/")
        if method != self.method or len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


@dataclass
class RecordedRequest:
    """One HTTP request the bot made, as a test sees it."""

    method: str
    path: str
    at: float
    query: dict[str, str]
    host: str = ""
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    route: str | None = None
    authorized: bool = False
    status: int = 0
    response: Any = None


# --- lookups ------------------------------------------------------------------------------------


def _channel(standin: DiscordStandin, channel_id: str) -> Channel:
    channel = standin.world.channels.get(int(channel_id)) if channel_id.isdigit() else None
    if channel is None:
        raise ApiError(404, UNKNOWN_CHANNEL, "Unknown Channel")
    return channel


def _message(standin: DiscordStandin, channel: Channel, message_id: str) -> Message:
    message = standin.world.messages.get(int(message_id)) if message_id.isdigit() else None
    if message is None or message.deleted or message.channel_id != channel.id:
        raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")
    return message


def _interaction_by_token(standin: DiscordStandin, call: Call) -> Interaction:
    interaction = standin.world.interactions_by_token.get(call.params["token"])
    expired = interaction is not None and call.now - interaction.created_at > INTERACTION_TOKEN_LIFETIME
    if interaction is None or expired or str(interaction.application_id) != call.params["application_id"]:
        raise ApiError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
    return interaction


async def _echo(standin: DiscordStandin, event: str, message: Message) -> None:
    """Discord tells the gateway about every visible write, including the bot's own."""
    if message.flags & MESSAGE_FLAG_EPHEMERAL:
        return
    await standin.gateway.dispatch(event, payloads.message_payload(standin.world, message))


# --- message bodies -----------------------------------------------------------------------------


def _attachments_from(standin: DiscordStandin, call: Call, channel_id: int, body: dict[str, Any]) -> list:
    """Store each uploaded `files[n]` part, taking its name and metadata from `attachments[n]` if given."""
    described = {str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, dict)}
    stored = []
    for upload in call.files:
        meta = described.get(str(upload.index), {})
        extra = {key: meta[key] for key in ("description", "duration_secs", "waveform") if key in meta}
        filename = meta.get("filename") or upload.filename
        stored.append(standin.world.store_attachment(channel_id, filename, upload.data, now=call.now, **extra))
    return stored


def _create(standin: DiscordStandin, call: Call, channel: Channel, **fields: Any) -> Message:
    body = call.json or {}
    check_message_body(body, call.files, upload_limit=standin.upload_limit)
    content = str(body.get("content") or "")
    embeds = body.get("embeds") or []
    check_not_empty(content, len(call.files), embeds)
    reply_to = None
    reference = body.get("message_reference")
    if reference and reference.get("message_id"):
        target = standin.world.messages.get(int(reference["message_id"]))
        if target is None or target.deleted or target.channel_id != channel.id:
            if reference.get("fail_if_not_exists", True):
                raise field_error(["message_reference"], "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        else:
            reply_to = target.id
    attachments = _attachments_from(standin, call, channel.id, body)
    return standin.world.create_message(
        channel.id,
        standin.world.bot.id,
        content,
        now=call.now,
        attachments=attachments,
        embeds=embeds,
        flags=int(body.get("flags") or 0),
        reply_to=reply_to,
        nonce=body.get("nonce"),
        tts=bool(body.get("tts")),
        **fields,
    )


def _apply_edit(standin: DiscordStandin, call: Call, message: Message) -> None:
    """Validate the whole edit first, so a rejected edit changes nothing."""
    body = call.json or {}
    check_message_body(body, call.files, upload_limit=standin.upload_limit)
    attachments = message.attachments
    if "attachments" in body:
        kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
        attachments = [a for a in attachments if str(a.id) in kept_ids]
    embeds = (body.get("embeds") or []) if "embeds" in body else message.embeds
    content = str(body.get("content") or "") if "content" in body else message.content
    check_not_empty(content, len(attachments) + len(call.files), embeds)
    message.attachments = attachments + _attachments_from(standin, call, message.channel_id, body)
    message.embeds = embeds
    if body.get("flags") is not None:
        message.flags = (message.flags & (MESSAGE_FLAG_EPHEMERAL | MESSAGE_FLAG_LOADING)) | int(body["flags"])
    if message.flags & MESSAGE_FLAG_LOADING:
        # Filling in a deferred "is thinking..." reply is not an edit: Discord shows no "(edited)".
        message.flags &= ~MESSAGE_FLAG_LOADING
        message.content = content
        message.history = [Revision(call.now, content)]
        return
    standin.world.edit_message(message, now=call.now, content=content)


# --- login, application and commands ------------------------------------------------------------


async def get_me(standin: DiscordStandin, call: Call) -> Reply:
    return Reply(body=payloads.client_user_payload(standin.world.bot))


async def get_app_info(standin: DiscordStandin, call: Call) -> Reply:
    return Reply(body=payloads.app_info_payload(standin.world))


async def get_gateway(standin: DiscordStandin, call: Call) -> Reply:
    limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
    shards = standin.recommended_shards  # what discord.py's AutoShardedClient uses when not told a count
    return Reply(body={"url": "wss://gateway.discord.gg", "shards": shards, "session_start_limit": limit})


def _command_scope(standin: DiscordStandin, call: Call) -> int | None:
    if call.params["application_id"] != str(standin.world.application_id):
        raise ApiError(403, 20012, "You are not authorized to perform this action on this application")
    guild_id = call.params.get("guild_id")
    if guild_id is None:
        return None
    if not guild_id.isdigit() or int(guild_id) not in standin.world.guilds:
        raise ApiError(403, 50001, "Missing Access")
    return int(guild_id)


async def put_commands(standin: DiscordStandin, call: Call) -> Reply:
    guild_id = _command_scope(standin, call)
    check_commands(call.json)
    commands = standin.world.replace_commands(call.json, guild_id, now=call.now)
    return Reply(body=[payloads.app_command_payload(standin.world, c) for c in commands])


async def get_commands(standin: DiscordStandin, call: Call) -> Reply:
    guild_id = _command_scope(standin, call)
    found = [c for c in standin.world.commands.values() if c.guild_id == guild_id]
    return Reply(body=[payloads.app_command_payload(standin.world, c) for c in found])


# --- channels and messages ----------------------------------------------------------------------


async def get_channel(standin: DiscordStandin, call: Call) -> Reply:
    return Reply(body=payloads.channel_payload(standin.world, _channel(standin, call.params["channel_id"])))


async def get_guild(standin: DiscordStandin, call: Call) -> Reply:
    guild = standin.world.guilds.get(int(call.params["guild_id"])) if call.params["guild_id"].isdigit() else None
    if guild is None:
        raise ApiError(404, 10004, "Unknown Guild")
    body = payloads.guild_payload(standin.world, guild)
    for key in ("channels", "threads", "members", "voice_states", "presences", "joined_at", "large", "member_count"):
        body.pop(key)
    return Reply(body=body)


async def get_member(standin: DiscordStandin, call: Call) -> Reply:
    guild = standin.world.guilds.get(int(call.params["guild_id"])) if call.params["guild_id"].isdigit() else None
    user_id = int(call.params["user_id"]) if call.params["user_id"].isdigit() else 0
    if guild is None or user_id not in guild.member_roles:
        raise ApiError(404, UNKNOWN_MEMBER, "Unknown Member")
    return Reply(body=payloads.member_payload(guild, standin.world.users[user_id]))


async def open_dm(standin: DiscordStandin, call: Call) -> Reply:
    recipient = str((call.json or {}).get("recipient_id", ""))
    user = standin.world.users.get(int(recipient)) if recipient.isdigit() else None
    if user is None or user.bot:
        raise ApiError(400, CANNOT_DM, "Cannot send messages to this user")
    channel = standin.world.dm_channel(user, now=call.now)
    return Reply(body=payloads.channel_payload(standin.world, channel))


async def create_message(standin: DiscordStandin, call: Call) -> Reply:
    channel = _channel(standin, call.params["channel_id"])
    body = call.json or {}
    nonce = body.get("nonce")
    if body.get("enforce_nonce") and nonce is not None:
        # Discord returns the earlier message instead of a duplicate for a repeated nonce.
        for earlier in standin.world.channel_messages(channel.id):
            if earlier.nonce == nonce and earlier.author_id == standin.world.bot.id:
                return Reply(body=payloads.message_payload(standin.world, earlier))
    message = _create(standin, call, channel)
    await _echo(standin, "MESSAGE_CREATE", message)
    return Reply(body=payloads.message_payload(standin.world, message))


async def edit_message(standin: DiscordStandin, call: Call) -> Reply:
    channel = _channel(standin, call.params["channel_id"])
    message = _message(standin, channel, call.params["message_id"])
    if message.author_id != standin.world.bot.id or message.webhook_id is not None:
        raise ApiError(403, NOT_AUTHOR, "Cannot edit a message authored by another user")
    _apply_edit(standin, call, message)
    await _echo(standin, "MESSAGE_UPDATE", message)
    return Reply(body=payloads.message_payload(standin.world, message))


async def _delete(standin: DiscordStandin, message: Message) -> None:
    message.deleted = True
    if message.flags & MESSAGE_FLAG_EPHEMERAL:
        return
    data = {"id": str(message.id), "channel_id": str(message.channel_id)}
    guild = standin.world.guild_of(message.channel_id)
    if guild is not None:
        data["guild_id"] = str(guild.id)
    await standin.gateway.dispatch("MESSAGE_DELETE", data)


async def delete_message(standin: DiscordStandin, call: Call) -> Reply:
    channel = _channel(standin, call.params["channel_id"])
    message = _message(standin, channel, call.params["message_id"])
    if message.author_id != standin.world.bot.id:
        guild = standin.world.guild_of(channel.id)
        if guild is None:
            raise ApiError(403, DM_ACTION, "Cannot execute action on a DM channel")
        if not payloads.permissions_of(guild, standin.world.bot.id) & Perm.MANAGE_MESSAGES:
            raise ApiError(403, MISSING_PERMISSIONS, "Missing Permissions")
    await _delete(standin, message)
    return Reply(status=204)


async def get_message(standin: DiscordStandin, call: Call) -> Reply:
    channel = _channel(standin, call.params["channel_id"])
    message = _message(standin, channel, call.params["message_id"])
    return Reply(body=payloads.message_payload(standin.world, message))


async def history(standin: DiscordStandin, call: Call) -> Reply:
    """GET /channels/{id}/messages: newest first, like Discord, whichever of before/after/around is used."""
    channel = _channel(standin, call.params["channel_id"])
    limit = int(call.query.get("limit", HISTORY_DEFAULT_LIMIT))
    if not 1 <= limit <= 100:
        raise field_error(["limit"], "NUMBER_TYPE_MAX", "int value should be between 1 and 100")
    found = standin.world.channel_messages(channel.id)
    if "before" in call.query:
        found = [m for m in found if m.id < int(call.query["before"])][-limit:]
    elif "after" in call.query:
        found = [m for m in found if m.id > int(call.query["after"])][:limit]
    elif "around" in call.query:
        pivot = int(call.query["around"])
        older = [m for m in found if m.id < pivot][-(limit // 2) :] if limit > 1 else []
        newer = [m for m in found if m.id >= pivot][: limit - len(older)]
        found = older + newer
    else:
        found = found[-limit:]
    return Reply(body=[payloads.message_payload(standin.world, m) for m in reversed(found)])


async def typing(standin: DiscordStandin, call: Call) -> Reply:
    _channel(standin, call.params["channel_id"])
    return Reply(status=204)


def _emoji(call: Call) -> str:
    emoji = call.params["emoji"]
    if ":" in emoji:  # a custom emoji: the stand-in's guilds have none
        raise ApiError(400, UNKNOWN_EMOJI, "Unknown Emoji")
    return emoji


def _reaction_event(standin: DiscordStandin, message: Message, emoji: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user_id": str(standin.world.bot.id),
        "channel_id": str(message.channel_id),
        "message_id": str(message.id),
        "emoji": {"id": None, "name": emoji},
        "burst": False,
        "type": 0,
    }
    guild = standin.world.guild_of(message.channel_id)
    if guild is not None:
        data["guild_id"] = str(guild.id)
    return data


async def add_reaction(standin: DiscordStandin, call: Call) -> Reply:
    channel = _channel(standin, call.params["channel_id"])
    message = _message(standin, channel, call.params["message_id"])
    emoji = _emoji(call)
    message.reactions.setdefault(emoji, set()).add(standin.world.bot.id)
    data = _reaction_event(standin, message, emoji)
    guild = standin.world.guild_of(channel.id)
    if guild is not None:
        data["member"] = payloads.member_payload(guild, standin.world.bot)
    data["message_author_id"] = str(message.author_id)
    await standin.gateway.dispatch("MESSAGE_REACTION_ADD", data)
    return Reply(status=204)


async def remove_reaction(standin: DiscordStandin, call: Call) -> Reply:
    channel = _channel(standin, call.params["channel_id"])
    message = _message(standin, channel, call.params["message_id"])
    emoji = _emoji(call)
    users = message.reactions.get(emoji, set())
    if standin.world.bot.id in users:
        users.discard(standin.world.bot.id)
        if not users:
            del message.reactions[emoji]
        await standin.gateway.dispatch("MESSAGE_REACTION_REMOVE", _reaction_event(standin, message, emoji))
    return Reply(status=204)


# --- interactions and their webhooks ------------------------------------------------------------


async def interaction_callback(standin: DiscordStandin, call: Call) -> Reply:
    interaction = standin.world.interactions.get(int(call.params["interaction_id"]))
    if interaction is None or interaction.token != call.params["token"]:
        raise ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")
    if interaction.response_type is not None:
        raise ApiError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
    if call.now - interaction.created_at > standin.interaction_ack_timeout:
        raise ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")
    body = call.json or {}
    callback_type = int(body.get("type", 0))
    data = body.get("data") or {}
    channel = standin.world.channels[interaction.channel_id]
    common = {"webhook_id": interaction.application_id, "interaction_id": interaction.id}
    if callback_type == 4:
        inner = Call(call.params, call.query, data, call.files, call.now)
        message = _create(standin, inner, channel, **common)
    elif callback_type == 5:
        flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
        message = standin.world.create_message(
            channel.id, standin.world.bot.id, "", now=call.now, flags=flags, **common
        )
    elif callback_type in (6, 9):  # deferred update / modal: acknowledged, no message of their own
        message = None
    else:
        standin.note_unsupported(f"interaction callback type {callback_type}")
        raise field_error(["type"], "BASE_TYPE_CHOICES", f"Value must be one of (4, 5, 6, 9); got {callback_type}.")
    interaction.response_type = callback_type
    if message is not None:
        interaction.original_message_id = message.id
        await _echo(standin, "MESSAGE_CREATE", message)
    if call.query.get("with_response") in ("1", "true", "True"):
        return Reply(body=payloads.interaction_callback_payload(standin.world, interaction, callback_type))
    return Reply(status=204)


def _original(standin: DiscordStandin, interaction: Interaction) -> Message:
    message = standin.world.messages.get(interaction.original_message_id or 0)
    if message is None or message.deleted:
        raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")
    return message


def _webhook_message(standin: DiscordStandin, call: Call) -> tuple[Interaction, Message]:
    interaction = _interaction_by_token(standin, call)
    message_id = call.params["message_id"]
    if message_id == "@original":
        return interaction, _original(standin, interaction)
    allowed = {*interaction.followup_ids, interaction.original_message_id}
    message = standin.world.messages.get(int(message_id)) if message_id.isdigit() else None
    if message is None or message.deleted or message.id not in allowed:
        raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")
    return interaction, message


async def get_webhook_message(standin: DiscordStandin, call: Call) -> Reply:
    _, message = _webhook_message(standin, call)
    return Reply(body=payloads.message_payload(standin.world, message))


async def edit_webhook_message(standin: DiscordStandin, call: Call) -> Reply:
    _, message = _webhook_message(standin, call)
    _apply_edit(standin, call, message)
    await _echo(standin, "MESSAGE_UPDATE", message)
    return Reply(body=payloads.message_payload(standin.world, message))


async def delete_webhook_message(standin: DiscordStandin, call: Call) -> Reply:
    _, message = _webhook_message(standin, call)
    await _delete(standin, message)
    return Reply(status=204)


async def create_followup(standin: DiscordStandin, call: Call) -> Reply:
    interaction = _interaction_by_token(standin, call)
    if interaction.response_type is None:
        raise ApiError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
    original = standin.world.messages.get(interaction.original_message_id or 0)
    if original is not None and not original.deleted and original.flags & MESSAGE_FLAG_LOADING:
        # The first follow-up after a deferred reply fills in the "is thinking..." message
        # (keeping the defer's ephemeral setting) instead of posting a new one.
        body = {key: value for key, value in (call.json or {}).items() if key != "flags"}
        _apply_edit(standin, Call(call.params, call.query, body, call.files, call.now), original)
        message, event = original, "MESSAGE_UPDATE"
    else:
        channel = standin.world.channels[interaction.channel_id]
        message = _create(standin, call, channel, webhook_id=interaction.application_id, interaction_id=interaction.id)
        interaction.followup_ids.append(message.id)
        event = "MESSAGE_CREATE"
    await _echo(standin, event, message)
    if call.query.get("wait") in ("1", "true", "True"):
        return Reply(body=payloads.message_payload(standin.world, message))
    return Reply(status=204)


# --- the table ----------------------------------------------------------------------------------

MESSAGE = "/channels/{channel_id}/messages/{message_id}"
REACTION = MESSAGE + "/reactions/{emoji}/@me"
WEBHOOK = "/webhooks/{application_id}/{token}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/users/@me", get_me),
    Route("GET", "/oauth2/applications/@me", get_app_info),
    Route("GET", "/gateway/bot", get_gateway),
    Route("PUT", "/applications/{application_id}/commands", put_commands),
    Route("GET", "/applications/{application_id}/commands", get_commands),
    Route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", put_commands, major="guild_id"),
    Route("GET", "/applications/{application_id}/guilds/{guild_id}/commands", get_commands, major="guild_id"),
    Route("GET", "/channels/{channel_id}", get_channel, major="channel_id"),
    Route("GET", "/guilds/{guild_id}", get_guild, major="guild_id"),
    Route("GET", "/guilds/{guild_id}/members/{user_id}", get_member, major="guild_id"),
    Route("POST", "/users/@me/channels", open_dm),
    Route("POST", "/channels/{channel_id}/messages", create_message, bucket="message-create", major="channel_id"),
    Route("GET", "/channels/{channel_id}/messages", history, major="channel_id"),
    Route("GET", MESSAGE, get_message, major="channel_id"),
    Route("PATCH", MESSAGE, edit_message, bucket="message-edit", major="channel_id"),
    Route("DELETE", MESSAGE, delete_message, major="channel_id"),
    Route("POST", "/channels/{channel_id}/typing", typing, major="channel_id"),
    Route("PUT", REACTION, add_reaction, major="channel_id"),
    Route("DELETE", REACTION, remove_reaction, major="channel_id"),
    Route("POST", "/interactions/{interaction_id}/{token}/callback", interaction_callback, auth=False, major="token"),
    Route("GET", WEBHOOK + "/messages/{message_id}", get_webhook_message, auth=False, major="token"),
    Route("PATCH", WEBHOOK + "/messages/{message_id}", edit_webhook_message, auth=False, major="token"),
    Route("DELETE", WEBHOOK + "/messages/{message_id}", delete_webhook_message, auth=False, major="token"),
    Route("POST", WEBHOOK, create_followup, auth=False, major="token"),
)


def find_route(method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(method, segments)
        if params is not None:
            return route, params
    return None
