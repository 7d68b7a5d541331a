"""Who SEL answers, where: the access rules from `.env` and the owner's sel.toml.

Channel lists say where SEL talks and apply to everyone; a server's ``allowed_channels`` in
sel.toml narrows that further in that server. User and role lists and the DM switch say whom
SEL talks to; the bot's owners, and the owners and moderators sel.toml names, pass them, so they
can never lock themselves out. A list in sel.toml's ``[access]`` replaces `.env`'s list of the
same name (see sel.owner_settings).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from discord.ext import commands

from sel.config import DiscordSettings
from sel.owner_settings import OwnerSettings

NO_FILE = OwnerSettings()


class HasId(Protocol):
    @property
    def id(self) -> int: ...


class Whereabouts(Protocol):
    """Who asks, in which channel and server: a discord.Message or a command's Context."""

    @property
    def author(self) -> HasId: ...

    @property
    def channel(self) -> HasId: ...

    @property
    def guild(self) -> object | None: ...


@dataclass(frozen=True)
class Lists:
    """The access lists in effect: `.env`'s, each replaced by sel.toml's when the file gives one."""

    allowed_users: frozenset[int]
    blocked_users: frozenset[int]
    allowed_roles: frozenset[int]
    blocked_roles: frozenset[int]
    allowed_channels: frozenset[int]
    blocked_channels: frozenset[int]
    allow_dms: bool
    trusted: frozenset[int]  # sel.toml's owners and moderators

    @classmethod
    def of(cls, settings: DiscordSettings, rules: OwnerSettings) -> Lists:
        return cls(
            allowed_users=rules.ids("allowed_users", settings.allowed_users),
            blocked_users=rules.ids("blocked_users", settings.blocked_users),
            allowed_roles=rules.ids("allowed_roles", settings.allowed_roles),
            blocked_roles=rules.ids("blocked_roles", settings.blocked_roles),
            allowed_channels=rules.ids("allowed_channels", settings.allowed_channels),
            blocked_channels=rules.ids("blocked_channels", settings.blocked_channels),
            allow_dms=settings.allow_dms if rules.allow_dms is None else rules.allow_dms,
            trusted=rules.ids("owners", frozenset()) | rules.ids("moderators", frozenset()),
        )


def allowed(
    settings: DiscordSettings, where: Whereabouts, *, owners: Collection[int] = (), rules: OwnerSettings = NO_FILE
) -> bool:
    """True when ``where``'s author and channel pass the allow/block lists."""
    lists = Lists.of(settings, rules)
    author = where.author
    is_owner = author.id in owners or author.id in lists.trusted
    if where.guild is None:
        return is_owner or (lists.allow_dms and _person_allowed(lists, author))
    channel = where.channel
    channel_ids = {channel.id, getattr(channel, "parent_id", None)}  # a thread follows its parent channel
    if channel_ids & lists.blocked_channels:
        return False
    if lists.allowed_channels and not channel_ids & lists.allowed_channels:
        return False
    server_channels = rules.place(str(getattr(where.guild, "id", ""))).allowed_channels
    if server_channels is not None and not channel_ids & server_channels:
        return False
    return is_owner or _person_allowed(lists, author)


def owners_of(bot: commands.Bot) -> frozenset[int]:
    """The application's owner, or its team's members (known once the bot has started)."""
    return frozenset(bot.owner_ids or ()) | ({bot.owner_id} if bot.owner_id else set())


def _person_allowed(lists: Lists, author: HasId) -> bool:
    if author.id in lists.blocked_users:
        return False
    if lists.allowed_users and author.id not in lists.allowed_users:
        return False
    roles = {role.id for role in getattr(author, "roles", ())}
    if roles & lists.blocked_roles:
        return False
    return not (lists.allowed_roles and not roles & lists.allowed_roles)
