"""Who SEL answers, where: the access rules from the configuration."""

from __future__ import annotations

from typing import Any

from sel.config import Settings


def allowed(settings: Settings, message: Any, *, owner_id: int | None) -> bool:
    """True when ``message``'s author and channel pass the allow/block lists (the owner always does)."""
    author = message.author
    if owner_id is not None and author.id == owner_id:
        return True
    if author.id in settings.blocked_users:
        return False
    if settings.allowed_users and author.id not in settings.allowed_users:
        return False
    if message.guild is None:
        return settings.allow_dms
    channel = message.channel
    channel_ids = {channel.id, getattr(channel, "parent_id", None)}  # a thread follows its parent channel
    if channel_ids & settings.blocked_channels:
        return False
    if settings.allowed_channels and not channel_ids & settings.allowed_channels:
        return False
    roles = {role.id for role in getattr(author, "roles", ())}
    if roles & settings.blocked_roles:
        return False
    return not (settings.allowed_roles and not roles & settings.allowed_roles)
