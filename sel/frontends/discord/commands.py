"""SEL's commands: each one definition, a prefix command (`!mood`) and a `/sel` subcommand (`/sel mood`).

Who may run what is said by check decorators (see checks.py); a refusal, or a problem the person
can fix, is answered by :meth:`SelCommands.cog_command_error`, for both kinds of invocation.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from sel.app import App, Status
from sel.config import MODES, SLOTS, DiscordSettings
from sel.errors import SelError, ServerUnavailableError, render_error
from sel.frontends.discord.checks import (
    MemoryOff,
    NotAllowedHere,
    NotOwner,
    allowed_here,
    data_right,
    needs_memory,
    opting_out,
    owner_only,
    owner_or_admin,
    switching_model,
)
from sel.frontends.discord.history import ConversationLog
from sel.frontends.discord.model_list import models_text
from sel.frontends.discord.responder import SERVER_DOWN
from sel.frontends.discord.voice import Voice

log = logging.getLogger(__name__)

Context = commands.Context[commands.Bot]

FORGET_WARNING = (
    "This deletes everything I know about you: memories, your style profile and your consent. "
    "To go ahead, use `{prefix}forget confirm` (or `/sel forget confirm:True`)."
)
NO_MEMORY = "Memory is turned off on this SEL."
NO_RIGHTS = "Sorry, only the bot owner or a server admin can do that."
NO_OWNER = "Sorry, only the bot's owner can switch models."
NOT_HERE = "Sorry, I'm not available to you here."
NO_DM = "I couldn't DM you; allow DMs from server members and try again."
REMEMBERING = "Okay! I'll remember things you tell me about yourself. `forget` deletes them anytime."
NOT_REMEMBERING = "Got it, I've stopped remembering things about you. (`forget` deletes what I already have.)"
CONSENT_WORDS = dict.fromkeys(("on", "yes", "1", "true"), True) | dict.fromkeys(("off", "no", "0", "false"), False)
HELP = """**SEL commands** (prefix `{prefix}` or `/sel …`)
`remember on|off` — let me remember things about you (or stop)
`memsvg` — a map of what I remember about you
`export` — everything I store about you, sent by DM
`forget` — delete everything I know about you
`mood` — my hormone levels and mood
`why` — why I answered (or not) the last message
`status` — models, speed, memory, uptime
`mode NAME` — switch personality ({modes}) — owner/admins
`model` — the models I can use; `model SLOT NAME` switches one — owner
`join` / `leave` / `say TEXT` — voice channel
Mention me, DM me or reply to me to talk."""


class Confirmation(commands.Converter[bool], app_commands.Transformer):
    """`forget confirm` after a prefix; a True/False option in `/sel forget`."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.boolean

    async def convert(self, ctx: commands.Context[Any], argument: str) -> bool:  # any bot: as its supertype
        return argument.strip().lower() == "confirm"

    async def transform(self, interaction: discord.Interaction, value: bool) -> bool:
        return bool(value)


class SelCommands(commands.GroupCog, group_name="sel", group_description="Talk to SEL's controls"):
    """Memory, mood, mode, status, voice and help."""

    def __init__(self, app: App, settings: DiscordSettings, history: ConversationLog, voice: Voice) -> None:
        self.app = app
        self._settings = settings
        self.history = history
        self.voice = voice

    @property
    def settings(self) -> DiscordSettings:
        return self._settings

    @property
    def memory_on(self) -> bool:
        return self.app.memory_on

    # ---- memory and data rights -------------------------------------------------------------

    @commands.hybrid_command(description="A map of what SEL remembers about you")
    @allowed_here()
    @needs_memory()
    async def memsvg(self, ctx: Context) -> None:
        """The memory map holds every remembered fact: in a server it goes by DM, never to the channel."""
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

    @commands.hybrid_command(description="Let SEL remember things about you (on) or stop (off)", usage="on|off")
    @app_commands.choices(setting=[app_commands.Choice(name=s, value=s) for s in ("on", "off")])
    @data_right(when=opting_out)
    @needs_memory()
    async def remember(self, ctx: Context, setting: str) -> None:
        on = CONSENT_WORDS.get(setting.lower())
        if on is None:
            prefix = self.settings.prefix
            await ctx.reply(f"Use `{prefix}remember on` or `{prefix}remember off`.")
            return
        await self.app.set_consent(str(ctx.author.id), on)
        await ctx.reply(REMEMBERING if on else NOT_REMEMBERING)

    @commands.hybrid_command(description="Delete everything SEL knows about you")
    @data_right()
    async def forget(self, ctx: Context, confirm: app_commands.Transform[bool, Confirmation] = False) -> None:
        if not confirm:
            await ctx.reply(FORGET_WARNING.format(prefix=self.settings.prefix))
            return
        await ctx.typing()  # rewriting the store can take longer than Discord's 3 seconds
        await self.app.forget(str(ctx.author.id))
        self.history.drop_author(ctx.author.id)
        await ctx.reply("Done. I've forgotten everything about you.")

    @commands.hybrid_command(description="Everything SEL stores about you, by DM")
    @data_right()
    @needs_memory()
    async def export(self, ctx: Context) -> None:
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

    # ---- SEL itself ---------------------------------------------------------------------------

    @commands.hybrid_command(description="SEL's hormone levels and mood")
    @allowed_here()
    async def mood(self, ctx: Context) -> None:
        await ctx.reply(f"```\n{self.app.brain.mood_report()}\n```")

    @commands.hybrid_command(description="Why SEL answered (or not) the last message")
    @allowed_here()
    async def why(self, ctx: Context) -> None:
        """Only the last decision in the asker's own channel: another channel's could be someone's DM."""
        await ctx.reply(self.app.brain.why(str(ctx.channel.id)))

    @commands.hybrid_command(description="Switch SEL's personality mode (owner/admins)", usage="|".join(MODES))
    @app_commands.choices(name=[app_commands.Choice(name=m, value=m) for m in MODES])
    @allowed_here()
    @owner_or_admin()
    async def mode(self, ctx: Context, name: str) -> None:
        mode = self.app.brain.set_mode(name)  # an unknown name is a SelError that lists the modes
        await ctx.reply(f"Mode is now **{mode.name}**.")

    @commands.hybrid_command(description="The models SEL can use; the owner switches one", usage="[SLOT NAME]")
    @app_commands.choices(slot=[app_commands.Choice(name=s, value=s) for s in SLOTS])
    @allowed_here()
    @owner_only(when=switching_model)
    async def model(self, ctx: Context, slot: str | None = None, name: str | None = None) -> None:
        """Everyone may see the list; a switch lasts across restarts (saved in SEL_DATA_DIR/models.json)."""
        await ctx.typing()  # asking a model server for its list can take longer than Discord's 3 seconds
        if slot is None:
            await ctx.reply(models_text(await self.app.model_choices(), self.settings.prefix))
        elif name is None:
            await ctx.reply(f"Use `{self.settings.prefix}model {slot} NAME`; `{self.settings.prefix}model` lists them.")
        else:
            await self.app.switch_model(slot, name)
            await ctx.reply(f"The {slot} slot now uses `{name.replace('`', '')}`.")

    @commands.hybrid_command(description="Models, speed, memory and uptime")
    @allowed_here()
    async def status(self, ctx: Context) -> None:
        await ctx.typing()
        await ctx.reply(status_text(await self.app.status()))

    @commands.hybrid_command(description="What SEL can do")
    @allowed_here()
    async def help(self, ctx: Context) -> None:
        await ctx.reply(HELP.format(prefix=self.settings.prefix, modes=", ".join(MODES)))

    # ---- voice (the Voice Cog does the work) ------------------------------------------------------

    @commands.hybrid_command(description="SEL joins your voice channel")
    @allowed_here()
    async def join(self, ctx: Context) -> None:
        await self.voice.join(ctx)

    @commands.hybrid_command(description="SEL leaves the voice channel")
    @allowed_here()
    async def leave(self, ctx: Context) -> None:
        await self.voice.leave(ctx)

    @commands.hybrid_command(description="SEL says something in the voice channel", usage="TEXT")
    @allowed_here()
    async def say(self, ctx: Context, *, text: str) -> None:
        await self.voice.say(ctx, text)

    # ---- refusals and errors ----------------------------------------------------------------------

    async def cog_command_error(self, ctx: Context, error: Exception) -> None:  # type: ignore[override]
        """Answer a refusal or a fixable problem in one line; anything else is logged."""
        answer = self._answer_to(ctx, error)
        if answer:
            await ctx.reply(answer)

    def _answer_to(self, ctx: Context, error: Exception) -> str:
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
            return f"Use `{self.settings.prefix}{ctx.command.name} {ctx.command.signature}`."
        cause = _cause(error)
        if isinstance(cause, ServerUnavailableError):
            log.error("command %s: %s", ctx.command, cause)  # the server's URL is for the owner's log
            return SERVER_DOWN
        if not isinstance(cause, SelError):
            log.error("command %s failed", ctx.command, exc_info=error)
        return render_error(cause)


def status_text(status: Status) -> str:
    """`status` for Discord: models, speed, memory, mode and uptime, one per line."""
    last = status.last
    speed = f"{round(last.tokens_per_second, 1) if last else 0} tokens/s ({last.slot if last else '-'})"
    uptime = int(status.uptime_seconds)
    lines = [
        "models: " + ", ".join(f"{slot}={path.name}" for slot, path in status.slots.items()),
        "loaded: " + (", ".join(path.name for path in status.loaded) or "none yet"),
        f"gpu layers: {status.gpu_layers}",
        f"last reply: {speed}",
        f"memories: {'off' if status.memories is None else status.memories}",
        f"mode: {status.mode}",
        f"uptime: {uptime // 3600}h {uptime % 3600 // 60}m",
    ]
    return "\n".join(lines)


def _cause(error: BaseException) -> BaseException:
    """What really went wrong under discord.py's wrappers (CommandInvokeError, HybridCommandError, ...)."""
    while (inner := getattr(error, "original", None)) is not None and inner is not error:
        error = inner
    return error
