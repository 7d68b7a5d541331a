"""What `/sel persona` shows, and which sel.toml key a `/sel persona` edit goes to."""

from __future__ import annotations

from typing import Any

from discord.ext import commands

from sel.app import App
from sel.errors import InputError

Context = commands.Context[Any]
SCOPES = ("channel", "server")
RESET_WORDS = frozenset({"reset", "default", "none"})
SHOWN_CHARS = 1800  # a Discord message holds 2000


def persona_shown(app: App, ctx: Context) -> str:
    """The persona in effect where ``ctx`` was used, and which part of sel.toml it comes from."""
    rules = app.owner_settings
    guild, channel = (str(ctx.guild.id), str(ctx.channel.id)) if ctx.guild is not None else ("", "")
    server = rules.servers.get(guild)
    sources = (
        ("this channel", server.channels.get(channel) if server else None),
        ("this server", server.place if server else None),
        ("sel.toml", rules.top),
    )
    for where, place in sources:
        if place is not None and place.persona is not None:
            return f"Persona here (from {where}), as **{rules.name}**:\n{_quoted(place.persona)}"
    return f"No persona is set here: I'm **{rules.name}** with my built-in personality."


def persona_target(ctx: Context, scope: str | None, text: str | None) -> tuple[tuple[str, ...], str | None, str]:
    """(sel.toml key, new text or None to remove it, "this channel"/"this server") for a persona edit.

    `!persona You are a pirate` has no scope word: its first word belongs to the text, and the
    scope is this channel.
    """
    if scope is not None and scope.lower() not in SCOPES:
        text, scope = f"{scope} {text or ''}".strip(), None
    scope = (scope or "channel").lower()
    if not text or not text.strip():
        raise InputError("give the persona text after the scope, e.g. `persona channel You are a cheerful pirate.`")
    if ctx.guild is None:
        raise InputError("personas are set per server or channel: use this command in a server")
    keys: tuple[str, ...] = ("servers", str(ctx.guild.id))
    if scope == "channel":
        keys += ("channels", str(ctx.channel.id))
    value = None if text.strip().lower() in RESET_WORDS else text.strip()
    return (*keys, "persona"), value, f"this {scope}"


def _quoted(text: str) -> str:
    shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"
    return "\n".join(f"> {line}" for line in shown.splitlines())
