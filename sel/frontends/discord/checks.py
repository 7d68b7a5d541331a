"""Who may run which command, as check decorators; the same checks guard `!cmd` and `/sel cmd`.

Every command carries exactly one access check: :func:`allowed_here` (the access lists apply)
or :func:`data_right` (open to everyone, or to everyone in one case, whatever the lists say).
A failed check raises a :class:`~discord.ext.commands.CheckFailure` subclass that the commands
Cog turns into its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from discord.ext import commands

from sel.config import DiscordSettings
from sel.frontends.discord.access import Lists, allowed, owners_of
from sel.owner_settings import OwnerSettings

Context = commands.Context[commands.Bot]
T = TypeVar("T")
Check = Callable[[T], T]
ACCESS_CHECK = "sel_access_check"  # marks the predicates that apply the access lists (see the rules test)
OPT_OUT_WORDS = frozenset({"off", "no", "0", "false"})


class NotAllowedHere(commands.CheckFailure):
    """The access lists (SEL_ALLOWED_*/SEL_BLOCKED_*) exclude this person or channel."""


class NotPrivileged(commands.CheckFailure):
    """The command is for the bot's owners, sel.toml's owners and moderators, and server admins."""


class NotOwner(commands.CheckFailure):
    """This use of the command is for the bot's owners only."""


class MemoryOff(commands.CheckFailure):
    """The command needs the memory store, and this SEL runs without one."""


@runtime_checkable
class Guarded(Protocol):
    """What the checks read from the Cog whose commands they guard."""

    @property
    def settings(self) -> DiscordSettings: ...

    @property
    def memory_on(self) -> bool: ...

    @property
    def owner_settings(self) -> OwnerSettings: ...


def allowed_here() -> Check[Any]:
    """The access lists decide who may use the command, and where."""
    return _access_check(lambda ctx: False)


def data_right(*, when: Callable[[Context], bool] = lambda ctx: True) -> Check[Any]:
    """Open to everyone whatever the access lists say (a person's rights over their data) — or only
    ``when`` the use is one (e.g. withdrawing consent); other uses follow the access lists."""
    return _access_check(when)


def opting_out(ctx: Context) -> bool:
    """`remember off` (or no/0/false): withdrawing consent, in a prefix or a slash command."""
    if ctx.interaction is not None:
        setting = str(getattr(ctx.interaction.namespace, "setting", "") or "")
    else:
        setting = (ctx.message.content.split(maxsplit=1)[1:] or [""])[0]
    return setting.strip().lower() in OPT_OUT_WORDS


def owner_or_admin(*, when: Callable[[Context], bool] = lambda ctx: True) -> Check[Any]:
    """Only the bot's owners, the owners and moderators sel.toml names, and in a server its admins
    (Administrator or Manage Server) — or only ``when`` the use is one that changes something."""

    async def predicate(ctx: Context) -> bool:
        if not when(ctx) or await ctx.bot.is_owner(ctx.author):
            return True
        holder = _holder(ctx)
        if ctx.author.id in Lists.of(holder.settings, holder.owner_settings).trusted:
            return True
        perms = getattr(ctx.author, "guild_permissions", None)
        if ctx.guild is not None and perms is not None and (perms.administrator or perms.manage_guild):
            return True
        raise NotPrivileged()

    return commands.check(predicate)


def owner_only(*, when: Callable[[Context], bool] = lambda ctx: True) -> Check[Any]:
    """Only the bot's owners (the application's owner, or its team) — or only ``when`` the use is one
    that changes something (e.g. switching a model, where listing them is open)."""

    async def predicate(ctx: Context) -> bool:
        if not when(ctx) or await ctx.bot.is_owner(ctx.author):
            return True
        raise NotOwner()

    return commands.check(predicate)


def switching_model(ctx: Context) -> bool:
    """`model SLOT NAME` (a switch), as opposed to `model` alone (the list), in a prefix or a slash command."""
    if ctx.interaction is not None:
        return bool(getattr(ctx.interaction.namespace, "slot", None))
    return bool(ctx.message.content.removeprefix(ctx.prefix or "").split()[1:])  # words after the command name


def with_words(ctx: Context) -> bool:
    """The command was given something after its name (`persona TEXT`, as opposed to `persona` alone)."""
    if ctx.interaction is not None:
        return any(value for _name, value in ctx.interaction.namespace)
    return bool(ctx.message.content.removeprefix(ctx.prefix or "").split()[1:])


def needs_memory() -> Check[Any]:
    """The command reads or changes what SEL remembers."""

    def predicate(ctx: Context) -> bool:
        if not _holder(ctx).memory_on:
            raise MemoryOff()
        return True

    return commands.check(predicate)


def _access_check(open_when: Callable[[Context], bool]) -> Check[Any]:
    def predicate(ctx: Context) -> bool:
        holder = _holder(ctx)
        if open_when(ctx) or allowed(holder.settings, ctx, owners=owners_of(ctx.bot), rules=holder.owner_settings):
            return True
        raise NotAllowedHere()

    setattr(predicate, ACCESS_CHECK, True)
    return commands.check(predicate)


def _holder(ctx: Context) -> Guarded:
    cog = ctx.cog
    if not isinstance(cog, Guarded):
        raise TypeError(f"{ctx.command} is guarded by SEL's checks but its Cog holds no settings")
    return cog
