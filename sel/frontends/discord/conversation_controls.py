"""`retry`, `continue` and `reset` act on the Conversation Cog: finding it, and what the asker is told."""

from __future__ import annotations

from discord.ext import commands

from sel.frontends.discord.conversation import Conversation

Context = commands.Context[commands.Bot]

RESET_DONE = (
    "Starting fresh here: I won't read the earlier messages of this channel any more. "
    "What I remember about people and my mood are unchanged."
)


def conversation_of(ctx: Context) -> Conversation:
    """The conversation Cog of the bot running the command (retry, continue and reset act on it)."""
    cog = ctx.bot.get_cog("Conversation")
    if not isinstance(cog, Conversation):
        raise RuntimeError("the Conversation Cog is not loaded")
    return cog


async def answer_start(ctx: Context, problem: str, started: str) -> None:
    """Say why nothing happens; else only a slash command is answered (only to its asker): the reply
    being rewritten or extended is the answer, and a prefix command gets no message of its own."""
    if problem:
        await ctx.reply(problem)
    elif ctx.interaction is not None:
        await ctx.reply(started, ephemeral=True)
