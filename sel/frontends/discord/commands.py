"""SEL's commands: each one definition, a prefix command (`!mood`) and a `/sel` subcommand (`/sel mood`).

Who may run what is said by check decorators (see checks.py); a refusal, or a problem the person
can fix, is answered by :meth:`SelCommands.cog_command_error`, for both kinds of invocation.
"""

from __future__ import annotations

from discord import app_commands
from discord.ext import commands

from sel.app import App
from sel.app_door import Status
from sel.brain.modes import get_mode
from sel.config import MODES, SLOTS, DiscordSettings
from sel.frontends.discord.checks import (
    allowed_here,
    data_right,
    needs_memory,
    opting_out,
    owner_only,
    owner_or_admin,
    switching_model,
    with_words,
)
from sel.frontends.discord.command_errors import answer_to
from sel.frontends.discord.conversation_controls import RESET_DONE, answer_start, conversation_of
from sel.frontends.discord.data_rights import SCOPE_SET, Confirmation, DataRights
from sel.frontends.discord.history import ConversationLog
from sel.frontends.discord.model_list import models_text
from sel.frontends.discord.owner_commands import persona_shown, persona_target
from sel.frontends.discord.voice import Voice
from sel.owner_settings import OwnerSettings

Context = commands.Context[commands.Bot]

HELP = """**SEL commands** (prefix `{prefix}` or `/sel …`)
`remember on|off` — let me remember things about you (or stop); `remember anywhere|here|dm` — where they may come back
`memsvg` — a map of what I remember about you
`export` — everything I store about you, sent by DM
`forget` — delete everything I know about you; `forget about WORDS` — pick one memory to delete
`mood` — my hormone levels and mood
`retry` — write my last reply to you again; `continue` — carry on a reply that was cut off
`reset` — start fresh in this channel (I forget the conversation so far, not your memories)
`why` — why I answered (or not) the last message
`status` — models, speed, memory, uptime
`mode NAME` — switch personality in this channel ({modes}) — owner/moderators
`persona` — the persona I use here; `persona [channel|server] TEXT` sets it — owner/moderators
`reload` — read sel.toml now — owner/moderators
`model` — the models I can use; `model SLOT NAME` switches one — owner
`join` / `leave` / `say TEXT` — voice channel
`listen on|off` — let me hear you in voice channels (or stop)
Mention me, DM me or reply to me to talk."""


class SelCommands(commands.GroupCog, group_name="sel", group_description="Talk to SEL's controls"):
    """Memory, mood, mode, status, voice and help."""

    def __init__(self, app: App, settings: DiscordSettings, history: ConversationLog, voice: Voice) -> None:
        self.app = app
        self._settings = settings
        self.history = history
        self.voice = voice
        self.data_rights = DataRights(app, settings, history)

    @property
    def settings(self) -> DiscordSettings:
        return self._settings

    @property
    def memory_on(self) -> bool:
        return self.app.memory_on

    @property
    def owner_settings(self) -> OwnerSettings:
        return self.app.owner_settings

    # ---- memory and data rights (DataRights does the work) ----------------------------------------

    @commands.hybrid_command(description="A map of what SEL remembers about you")
    @allowed_here()
    @needs_memory()
    async def memsvg(self, ctx: Context) -> None:
        """The memory map holds every remembered fact: in a server it goes by DM, never to the channel."""
        await self.data_rights.memsvg(ctx)

    @commands.hybrid_command(
        description="Let SEL remember things about you (on/off), and where they may come back",
        usage="on|off [anywhere|here|dm]",
    )
    @app_commands.choices(
        setting=[app_commands.Choice(name=s, value=s) for s in ("on", "off")],
        scope=[app_commands.Choice(name=s, value=s) for s in SCOPE_SET],
    )
    @app_commands.describe(scope="where what you tell me from now on may come back: anywhere, here, or only in DMs")
    @data_right(when=opting_out)
    @needs_memory()
    async def remember(self, ctx: Context, setting: str = "", scope: str = "") -> None:
        """`remember on|off`, `remember anywhere|here|dm` (or both): consent, and the scope of future memories."""
        await self.data_rights.remember(ctx, setting, scope)

    @commands.hybrid_command(description="Delete everything SEL knows about you, or one memory you pick")
    @app_commands.describe(
        about="words from a memory: lists the matching ones, numbered",
        memory="the number (from that list) of the one memory to delete",
    )
    @data_right()
    async def forget(
        self,
        ctx: Context,
        confirm: app_commands.Transform[bool, Confirmation] = False,
        *,
        about: str | None = None,
        memory: str | None = None,
    ) -> None:
        """`forget confirm` erases everything; `forget about WORDS` lists matches; `forget memory N` deletes one."""
        await self.data_rights.forget(ctx, confirm, about, memory)

    @commands.hybrid_command(description="Everything SEL stores about you, by DM")
    @data_right()
    @needs_memory()
    async def export(self, ctx: Context) -> None:
        await self.data_rights.export(ctx)

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

    @commands.hybrid_command(description="Switch SEL's mode in this channel (owner/moderators)", usage="|".join(MODES))
    @app_commands.choices(name=[app_commands.Choice(name=m, value=m) for m in MODES])
    @allowed_here()
    @owner_or_admin()
    async def mode(self, ctx: Context, name: str) -> None:
        """In a server the mode is this channel's, kept in sel.toml; in a DM it is SEL's own, until restart."""
        if ctx.guild is None:
            mode = self.app.brain.set_mode(name)  # an unknown name is a SelError that lists the modes
            await ctx.reply(f"Mode is now **{mode.name}**.")
            return
        mode = get_mode(name)
        here = ("servers", str(ctx.guild.id), "channels", str(ctx.channel.id))
        await self.app.set_owner_setting((*here, "mode"), mode.name)
        await ctx.reply(f"Mode in this channel is now **{mode.name}**.")

    @commands.hybrid_command(
        description="The persona SEL uses here; owners/moderators set it", usage="[channel|server] [TEXT]"
    )
    @app_commands.choices(scope=[app_commands.Choice(name=s, value=s) for s in ("channel", "server")])
    @allowed_here()
    @owner_or_admin(when=with_words)
    async def persona(self, ctx: Context, scope: str | None = None, *, text: str | None = None) -> None:
        """Show the persona in effect here, or set it (`reset` removes it) for this channel or the server."""
        if scope is None and text is None:
            await ctx.reply(persona_shown(self.app, ctx))
            return
        keys, value, where = persona_target(ctx, scope, text)
        await self.app.set_owner_setting(keys, value)
        await ctx.reply(f"Persona {'removed' if value is None else 'set'} for {where}; kept in sel.toml.")

    @commands.hybrid_command(description="Read sel.toml now (owner/moderators)")
    @allowed_here()
    @owner_or_admin()
    async def reload(self, ctx: Context) -> None:
        refused = await self.app.reload_settings()
        if refused is None:
            await ctx.reply("Settings reloaded from sel.toml.")
        else:
            await ctx.reply(f"sel.toml was refused, the last good settings stay: {refused}")

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

    # ---- the conversation: retry, continue, reset ---------------------------------------------------

    @commands.hybrid_command(description="SEL writes its last reply to you again")
    @allowed_here()
    async def retry(self, ctx: Context) -> None:
        """The old reply is edited in place with the new one, so the answer is the edit itself."""
        await answer_start(ctx, conversation_of(ctx).retry(ctx.channel.id, ctx.author.id), "Writing it again…")

    @commands.hybrid_command(name="continue", description="SEL carries on its last reply here, if it was cut off")
    @allowed_here()
    async def continue_(self, ctx: Context) -> None:
        await answer_start(ctx, conversation_of(ctx).extend(ctx.channel.id), "Carrying on…")

    @commands.hybrid_command(description="Start fresh in this channel (memories and mood stay)")
    @allowed_here()
    async def reset(self, ctx: Context) -> None:
        """The fresh start begins after this answer, so SEL never reads it back as part of the conversation."""
        answer = await ctx.reply(RESET_DONE)
        await conversation_of(ctx).reset(ctx.channel.id, max(ctx.message.id, answer.id))

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

    @commands.hybrid_command(description="Let SEL hear you in voice channels (on) or stop (off)", usage="on|off")
    @app_commands.choices(setting=[app_commands.Choice(name=s, value=s) for s in ("on", "off")])
    @data_right(when=opting_out)
    async def listen(self, ctx: Context, setting: str) -> None:
        await self.voice.listen(ctx, setting)

    # ---- refusals and errors ----------------------------------------------------------------------

    async def cog_command_error(self, ctx: Context, error: Exception) -> None:  # type: ignore[override]
        """Answer a refusal or a fixable problem in one line; anything else is logged."""
        answer = answer_to(ctx, error, self.settings.prefix)
        if answer:
            await ctx.reply(answer)


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
        f"settings: {status.settings}",
    ]
    return "\n".join(lines)
