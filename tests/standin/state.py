"""The stand-in's world: users, guilds, channels, messages (with edit history), interactions, CDN blobs.

Plain records and the rules that change them. Nothing here knows about HTTP or websockets;
every time-dependent rule takes ``now`` (seconds since the epoch) from the caller.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
from dataclasses import dataclass, field
from enum import IntEnum

DISCORD_EPOCH_MS = 1_420_070_400_000


class ChannelType(IntEnum):
    TEXT = 0
    DM = 1
    VOICE = 2
    PUBLIC_THREAD = 11


class Perm(IntEnum):
    """The permission bits the stand-in's guilds use (Discord's values)."""

    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


MEMBER_PERMISSIONS = sum(Perm) & ~Perm.MANAGE_MESSAGES
BOT_PERMISSIONS = sum(Perm)

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_VOICE = 1 << 13


class SnowflakeFactory:
    """Discord-shaped ids: the creation time in the high bits, so `created_at` is meaningful to the bot."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, now: float) -> int:
        candidate = (int(now * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0


@dataclass
class Channel:
    id: int
    type: ChannelType
    name: str
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None
    recipient_ids: tuple[int, ...] = ()


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    member_roles: dict[int, list[int]] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    joined_at: float = 0.0
    premium_tier: int = 0


@dataclass
class Attachment:
    """A stored file: a user attachment the test registered, or a file the bot uploaded."""

    id: int
    channel_id: int
    filename: str
    data: bytes
    content_type: str
    description: str | None = None
    duration_secs: float | None = None
    waveform: str | None = None

    @property
    def path(self) -> str:
        return f"/attachments/{self.channel_id}/{self.id}/{self.filename}"


@dataclass(frozen=True)
class Revision:
    """One version of a message's text: the original, then one per edit."""

    at: float
    content: str


@dataclass
class Message:
    id: int
    channel_id: int
    author_id: int
    content: str
    created_at: float
    history: list[Revision] = field(default_factory=list)
    edited_at: float | None = None
    attachments: list[Attachment] = field(default_factory=list)
    embeds: list[dict] = field(default_factory=list)
    flags: int = 0
    reply_to: int | None = None
    mention_ids: tuple[int, ...] = ()
    nonce: str | int | None = None
    tts: bool = False
    webhook_id: int | None = None
    interaction_id: int | None = None
    reactions: dict[str, set[int]] = field(default_factory=dict)
    deleted: bool = False

    @property
    def edits(self) -> list[Revision]:
        return self.history[1:]


@dataclass
class Interaction:
    id: int
    token: str
    application_id: int
    channel_id: int
    guild_id: int | None
    user_id: int
    command_name: str
    options: list[dict]
    created_at: float
    response_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)


@dataclass
class AppCommand:
    id: int
    payload: dict
    guild_id: int | None
    version: int


def guess_content_type(filename: str) -> str:
    """Discord infers the type from the name: discord.py sends every part as application/octet-stream."""
    guessed, _ = mimetypes.guess_type(filename)
    if guessed is None and filename.lower().endswith(".ogg"):
        return "audio/ogg"
    return guessed or "application/octet-stream"


def discord_filename(name: str) -> str:
    """Discord stores upload names with spaces and unusual characters replaced by underscores."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "unknown"


class World:
    """Everything the stand-in knows. Mutated only by the stand-in's handlers and the test's builders."""

    def __init__(self) -> None:
        self.ids = SnowflakeFactory()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.interactions_by_token: dict[str, Interaction] = {}
        self.commands: dict[int, AppCommand] = {}
        self.blobs: dict[str, Attachment] = {}
        self.bot = User(id=0, username="unset")
        self.application_id = 0
        self.owner_id = 0

    # --- builders -------------------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False, now: float) -> User:
        user = User(id=self.ids.next(now), username=name, bot=bot, global_name=name.title())
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, owner: User, *, now: float) -> Guild:
        guild_id = self.ids.next(now)
        everyone = Role(id=guild_id, name="@everyone", permissions=MEMBER_PERMISSIONS)
        guild = Guild(id=guild_id, name=name, owner_id=owner.id, roles=[everyone], joined_at=now)
        self.guilds[guild.id] = guild
        bot_role = Role(id=self.ids.next(now), name=self.bot.username, permissions=BOT_PERMISSIONS, position=1)
        guild.roles.append(bot_role)
        guild.member_roles[self.bot.id] = [bot_role.id]
        guild.member_roles[owner.id] = []
        return guild

    def add_member(self, guild: Guild, user: User) -> None:
        guild.member_roles.setdefault(user.id, [])

    def add_channel(
        self, guild: Guild, name: str, kind: ChannelType, *, now: float, parent: Channel | None = None
    ) -> Channel:
        channel = Channel(
            id=self.ids.next(now),
            type=kind,
            name=name,
            guild_id=guild.id,
            position=len(guild.channel_ids),
            parent_id=parent.id if parent else None,
            owner_id=guild.owner_id if kind is ChannelType.PUBLIC_THREAD else None,
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def dm_channel(self, user: User, *, now: float) -> Channel:
        """The DM channel between the bot and `user`, created on first use as Discord does."""
        for channel in self.channels.values():
            if channel.type is ChannelType.DM and channel.recipient_ids == (user.id,):
                return channel
        channel = Channel(id=self.ids.next(now), type=ChannelType.DM, name="", recipient_ids=(user.id,))
        self.channels[channel.id] = channel
        return channel

    # --- messages -------------------------------------------------------------------------------

    def store_attachment(
        self, channel_id: int, filename: str, data: bytes, *, now: float, **extra: object
    ) -> Attachment:
        filename = discord_filename(filename)
        content_type = extra.pop("content_type", None) or guess_content_type(filename)
        attachment = Attachment(
            id=self.ids.next(now),
            channel_id=channel_id,
            filename=filename,
            data=data,
            content_type=str(content_type),
            **extra,  # type: ignore[arg-type]
        )
        self.blobs[attachment.path] = attachment
        return attachment

    def create_message(self, channel_id: int, author_id: int, content: str, *, now: float, **fields: object) -> Message:
        message = Message(
            id=self.ids.next(now),
            channel_id=channel_id,
            author_id=author_id,
            content=content,
            created_at=now,
            history=[Revision(now, content)],
            **fields,  # type: ignore[arg-type]
        )
        self.messages[message.id] = message
        return message

    def edit_message(self, message: Message, *, now: float, content: str | None = None) -> None:
        if content is not None and content != message.content:
            message.content = content
            message.history.append(Revision(now, content))
        message.edited_at = now

    def channel_messages(self, channel_id: int) -> list[Message]:
        """Live messages in a channel, oldest first."""
        found = [m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]
        return sorted(found, key=lambda m: m.id)

    def guild_of(self, channel_id: int) -> Guild | None:
        channel = self.channels.get(channel_id)
        if channel is None or channel.guild_id is None:
            return None
        return self.guilds.get(channel.guild_id)

    # --- interactions ---------------------------------------------------------------------------

    def create_interaction(
        self, channel_id: int, user_id: int, command_name: str, options: list[dict], *, now: float
    ) -> Interaction:
        guild = self.guild_of(channel_id)
        interaction = Interaction(
            id=self.ids.next(now),
            token=secrets.token_urlsafe(24),
            application_id=self.application_id,
            channel_id=channel_id,
            guild_id=guild.id if guild else None,
            user_id=user_id,
            command_name=command_name,
            options=options,
            created_at=now,
        )
        self.interactions[interaction.id] = interaction
        self.interactions_by_token[interaction.token] = interaction
        return interaction

    def command_named(self, name: str, guild_id: int | None) -> AppCommand | None:
        """A synced command by name, preferring the guild's own over the global one."""
        matches = [c for c in self.commands.values() if c.payload.get("name") == name]
        for command in matches:
            if command.guild_id is not None and command.guild_id == guild_id:
                return command
        return next((c for c in matches if c.guild_id is None), None)

    def replace_commands(self, payloads: list[dict], guild_id: int | None, *, now: float) -> list[AppCommand]:
        """Bulk overwrite: Discord keeps the id of a command whose name survives, and bumps its version."""
        old = {c.payload["name"]: c for c in self.commands.values() if c.guild_id == guild_id}
        for command in old.values():
            del self.commands[command.id]
        result = []
        for payload in payloads:
            previous = old.get(payload["name"])
            command_id = previous.id if previous else self.ids.next(now)
            command = AppCommand(id=command_id, payload=payload, guild_id=guild_id, version=self.ids.next(now))
            self.commands[command.id] = command
            result.append(command)
        return result
