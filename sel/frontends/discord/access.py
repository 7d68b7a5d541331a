"""Who SEL answers, where: the access rules from the configuration.

Channel lists say where SEL talks and apply to everyone. User and role lists and the DM
switch say whom SEL talks to; the bot's owners pass them, so they can never lock
themselves out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from discord.ext import commands

from sel.config import DiscordSettings


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


def allowed(settings: DiscordSettings, where: Whereabouts, *, owners: Collection[int] = ()) -> bool:
    """True when ``where``'s author and channel pass the allow/block lists."""
    author = where.author
    is_owner = author.id in owners
    if where.guild is None:
        return is_owner or (settings.allow_dms and _person_allowed(settings, author))
    channel = where.channel
    channel_ids = {channel.id, getattr(channel, "parent_id", None)}  # a thread follows its parent channel
    if channel_ids & settings.blocked_channels:
        return False
    if settings.allowed_channels and not channel_ids & settings.allowed_channels:
        return False
    return is_owner or _person_allowed(settings, author)


def owners_of(bot: commands.Bot) -> frozenset[int]:
    """The application's owner, or its team's members (known once the bot has started)."""
    return frozenset(bot.owner_ids or ()) | ({bot.owner_id} if bot.owner_id else set())


def _person_allowed(settings: DiscordSettings, author: HasId) -> bool:
    if author.id in settings.blocked_users:
        return False
    if settings.allowed_users and author.id not in settings.allowed_users:
        return False
    roles = {role.id for role in getattr(author, "roles", ())}
    if roles & settings.blocked_roles:
        return False
    return not (settings.allowed_roles and not roles & settings.allowed_roles)
