"""The one line that answers a refused command, or a problem the person can fix; anything else is logged."""

from __future__ import annotations

import logging

from discord.ext import commands

from sel.errors import SelError, ServerUnavailableError, render_error
from sel.frontends.discord.checks import MemoryOff, NotAllowedHere, NotOwner
from sel.frontends.discord.responder import SERVER_DOWN

log = logging.getLogger(__name__)

Context = commands.Context[commands.Bot]

NO_MEMORY = "Memory is turned off on this SEL."
NO_RIGHTS = "Sorry, only the bot owner or a server admin can do that."
NO_OWNER = "Sorry, only the bot's owner can switch models."
NOT_HERE = "Sorry, I'm not available to you here."


def answer_to(ctx: Context, error: Exception, prefix: str) -> str:
    """The answer to ``error`` from a command run in ``ctx`` ("" for silence); unexpected errors are logged."""
    if isinstance(error, NotAllowedHere):
        # A blocked person's `!command` gets silence, like their messages; a slash command must be answered.
        return NOT_HERE if ctx.interaction is not None else ""
    if isinstance(error, MemoryOff):
        return NO_MEMORY
    if isinstance(error, NotOwner):
        return NO_OWNER
    if isinstance(error, commands.CheckFailure):
        return NO_RIGHTS
    if isinstance(error, commands.MissingRequiredArgument) and ctx.command is not None:
        return f"Use `{prefix}{ctx.command.name} {ctx.command.signature}`."
    cause = _cause(error)
    if isinstance(cause, ServerUnavailableError):
        log.error("command %s: %s", ctx.command, cause)  # the server's URL is for the owner's log
        return SERVER_DOWN
    if not isinstance(cause, SelError):
        log.error("command %s failed", ctx.command, exc_info=error)
    return render_error(cause)


def _cause(error: BaseException) -> BaseException:
    """What really went wrong under discord.py's wrappers (CommandInvokeError, HybridCommandError, ...)."""
    while (inner := getattr(error, "original", None)) is not None and inner is not error:
        error = inner
    return error
