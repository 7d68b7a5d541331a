"""What the memory and data-rights commands do: the memory map, consent and scope, forgetting, export.

The commands Cog keeps their definitions (one `/sel` group, with the access checks) and hands each
call to :class:`DataRights`.
"""

from __future__ import annotations

import io
import json
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from sel.app import App
from sel.config_slices import DiscordSettings
from sel.errors import InputError
from sel.frontends.discord.conversation_controls import conversation_of
from sel.frontends.discord.forget_one import (
    NO_MATCH,
    UNKNOWN_CHOICE,
    ForgetRequest,
    Offers,
    forgotten_line,
    numbered,
    prefix_request,
)
from sel.frontends.discord.history import ConversationLog

Context = commands.Context[commands.Bot]

FORGET_WARNING = (
    "This deletes everything I know about you: memories, your style profile and your consent. "
    "To go ahead, use `{prefix}forget confirm` (or `/sel forget confirm:True`). "
    "To delete just one memory, `{prefix}forget about WORDS` lists the ones that match."
)
NO_DM = "I couldn't DM you; allow DMs from server members and try again."
REMEMBERING = "Okay! I'll remember things you tell me about yourself. `forget` deletes them anytime."
NOT_REMEMBERING = "Got it, I've stopped remembering things about you. (`forget` deletes what I already have.)"
# `remember SCOPE`: where what the person tells SEL from now on may come back (sel.memory.scopes).
SCOPE_SET = {
    "anywhere": "From now on, what you tell me may come back anywhere: any server, and our DMs.",
    "here": "From now on, what you tell me comes back where you said it: in that server (and our DMs), "
    "or only in our DMs if you said it there.",
    "dm": "From now on, what you tell me comes back only in our DMs, never in a server.",
}
SCOPE_NEEDS_CONSENT = "I don't keep memories about you, so there is nothing to scope. Use `{prefix}remember on` first."
CONSENT_WORDS = dict.fromkeys(("on", "yes", "1", "true"), True) | dict.fromkeys(("off", "no", "0", "false"), False)


class Confirmation(commands.Converter[bool], app_commands.Transformer):
    """`forget confirm` after a prefix; a True/False option in `/sel forget`."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.boolean

    async def convert(self, ctx: commands.Context[Any], argument: str) -> bool:  # any bot: as its supertype
        return argument.strip().lower() == "confirm"

    async def transform(self, interaction: discord.Interaction, value: bool) -> bool:
        return bool(value)


class DataRights:
    """`memsvg`, `remember`, `forget` and `export` for the commands Cog, with the lists `forget about` offered."""

    def __init__(self, app: App, settings: DiscordSettings, history: ConversationLog) -> None:
        self.app = app
        self.settings = settings
        self.history = history
        self.offers = Offers()  # the last `forget about` list shown to each person

    async def memsvg(self, ctx: Context) -> None:
        """Send the asker their memory map: in place in a DM, by DM from a server."""
        await ctx.typing()
        svg = await self.app.memory_map(str(ctx.author.id))
        if svg is None:
            await ctx.reply(f"I don't keep memories about you. Turn it on with `{self.settings.prefix}remember on`.")
            return
        file = discord.File(io.BytesIO(svg.encode()), "memory-map.svg")
        if ctx.guild is None:
            await ctx.reply("Here's what I remember about you:", file=file)
        elif await self._direct_message(ctx, "Here's what I remember about you:", file):
            await ctx.reply("Sent you a DM with your memory map.")

    async def remember(self, ctx: Context, setting: str, scope: str) -> None:
        """`remember on|off`, `remember anywhere|here|dm` (or both): consent, and the scope of future memories."""
        setting, scope = setting.lower(), scope.lower()
        if setting in SCOPE_SET and not scope:  # `!remember dm`
            setting, scope = "", setting
        on = CONSENT_WORDS.get(setting)
        if (setting and on is None) or (scope and scope not in SCOPE_SET) or not (setting or scope):
            prefix = self.settings.prefix
            await ctx.reply(f"Use `{prefix}remember on|off`, or `{prefix}remember anywhere|here|dm` for where.")
            return
        answers = []
        if on is not None:
            await self.app.set_consent(str(ctx.author.id), on)
            answers.append(REMEMBERING if on else NOT_REMEMBERING)
        if scope and on is not False:
            kept = await self.app.set_memory_scope(str(ctx.author.id), scope)
            answers.append(SCOPE_SET[scope] if kept else SCOPE_NEEDS_CONSENT.format(prefix=self.settings.prefix))
        await ctx.reply("\n".join(answers))

    async def forget(self, ctx: Context, confirm: bool, about: str | None, memory: str | None) -> None:
        """`forget confirm` erases everything; `forget about WORDS` lists matches; `forget memory N` deletes one."""
        request = ForgetRequest(confirm, about or "", memory or "")
        if ctx.interaction is None:  # a prefix command's words are read here: `!forget my cat` means about
            request = prefix_request(ctx.message.content.removeprefix(ctx.prefix or ""))
        if request.about or request.memory:
            await self._forget_one(ctx, request)
            return
        if not request.confirm:
            await ctx.reply(FORGET_WARNING.format(prefix=self.settings.prefix))
            return
        await ctx.typing()  # rewriting the store can take longer than Discord's 3 seconds
        await self.app.forget(str(ctx.author.id))
        self.history.drop_author(ctx.author.id)
        conversation_of(ctx).responder.replies.drop_author(ctx.author.id)
        self.offers.drop(ctx.author.id)
        await ctx.reply("Done. I've forgotten everything about you.")

    async def _forget_one(self, ctx: Context, request: ForgetRequest) -> None:
        """List the memories matching ``request.about``, or delete the one ``request.memory`` names; the
        answer names the person's memories, so only they see it (ephemeral, or by DM from a server channel)."""
        await (ctx.defer(ephemeral=True) if ctx.interaction is not None else ctx.typing())
        user, prefix = str(ctx.author.id), self.settings.prefix
        if request.memory:
            try:
                deleted = await self.app.forget_memory(user, self.offers.chosen(ctx.author.id, request.memory))
            except InputError:
                await self._privately(ctx, UNKNOWN_CHOICE.format(prefix=prefix))
                return
            await self._privately(ctx, forgotten_line(deleted))
            return
        matches = await self.app.memory_matches(user, request.about)
        self.offers.offer(ctx.author.id, matches)
        await self._privately(ctx, numbered(matches, prefix) if matches else NO_MATCH.format(prefix=prefix))

    async def _privately(self, ctx: Context, text: str) -> None:
        """Answer only the asker: ephemeral for `/sel`, in place in a DM, else by DM with a note in the channel."""
        if ctx.interaction is not None or ctx.guild is None:
            await ctx.reply(text)  # a `/sel` answer is ephemeral: its deferral said so (see _forget_one)
        else:
            try:
                await ctx.author.send(text)
            except discord.HTTPException:
                await ctx.reply(NO_DM)
                return
            await ctx.reply("Sent you a DM.")

    async def export(self, ctx: Context) -> None:
        """Send the asker everything SEL stores about them, by DM."""
        await ctx.typing()
        data = await self.app.export(str(ctx.author.id))
        payload = json.dumps(data, indent=2, ensure_ascii=False).encode()
        file = discord.File(io.BytesIO(payload), "sel-export.json")
        if await self._direct_message(ctx, "Everything I store about you:", file):
            await ctx.reply("Sent you a DM with your data.")

    async def _direct_message(self, ctx: Context, text: str, file: discord.File) -> bool:
        """Send the asker a file by DM; False (and a reply saying so) when their DMs are closed."""
        try:
            await ctx.author.send(text, file=file)
        except discord.HTTPException:
            await ctx.reply(NO_DM)
            return False
        return True
