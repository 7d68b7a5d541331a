"""Who SEL answers, where: the access rules from the configuration.

Channel lists say where SEL talks and apply to everyone. User and role lists and the DM
switch say whom SEL talks to; the bot's owners pass them, so they can never lock
themselves out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sel.config import Settings


def allowed(settings: Settings, message: Any, *, owners: Collection[int] = ()) -> bool:
    """True when ``message``'s author and channel pass the allow/block lists."""
    author = message.author
    is_owner = author.id in owners
    if message.guild is None:
        return is_owner or (settings.allow_dms and _person_allowed(settings, author))
    channel = message.channel
    channel_ids = {channel.id, getattr(channel, "parent_id", None)}  # a thread follows its parent channel
    if channel_ids & settings.blocked_channels:
        return False
    if settings.allowed_channels and not channel_ids & settings.allowed_channels:
        return False
    return is_owner or _person_allowed(settings, author)


def _person_allowed(settings: Settings, author: Any) -> bool:
    if author.id in settings.blocked_users:
        return False
    if settings.allowed_users and author.id not in settings.allowed_users:
        return False
    roles = {role.id for role in getattr(author, "roles", ())}
    if roles & settings.blocked_roles:
        return False
    return not (settings.allowed_roles and not roles & settings.allowed_roles)
