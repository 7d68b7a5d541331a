"""SEL's Discord commands: prefix (`!memsvg`) and slash (`/sel memsvg`) from one implementation.

Each command is written once as a method taking a :class:`Reply` (how to answer) and
the invoking user; the prefix command and the `/sel` subcommand only adapt their
context to it. Commands that need rights carry a check decorator; a refusal is answered
politely by the error handlers at the bottom.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from sel.config import MODES
from sel.errors import SelError
from sel.voice.speakable import speakable

log = logging.getLogger(__name__)

FORGET_WARNING = (
    "This deletes everything I know about you: memories, your style profile and your consent. "
    "To go ahead, use `{prefix}forget confirm` (or `/sel forget confirm:True`)."
)
NO_MEMORY = "Memory is turned off on this SEL."
NO_RIGHTS = "Sorry, only the bot owner or a server admin can do that."
NOT_HERE = "Sorry, I'm not available to you here."
HELP = """**SEL commands** (prefix `{prefix}` or `/sel …`)
`remember on|off` — let me remember things about you (or stop)
`memsvg` — a map of what I remember about you
`export` — everything I store about you, sent by DM
`forget` — delete everything I know about you
`mood` — my hormone levels and mood
`why` — why I answered (or not) the last message
`status` — models, speed, memory, uptime
`mode NAME` — switch personality ({modes}) — owner/admins
`join` / `leave` / `say TEXT` — voice channel
Mention me, DM me or reply to me to talk."""


class NotAllowedHere(app_commands.CheckFailure):
    """The access lists (SEL_ALLOWED_*/SEL_BLOCKED_*) exclude this user or channel."""


class Reply:
    """How a command answers: adapts a prefix context or a slash interaction."""

    def __init__(self, send: Callable[..., Awaitable[Any]], defer: Callable[[], Awaitable[None]]) -> None:
        self.send = send
        self.defer = defer

    @classmethod
    def for_context(cls, ctx: commands.Context[Any]) -> Reply:
        async def send(content: str | None = None, *, file: discord.File | None = None) -> None:
            # Whom this may ping is the client's allowed_mentions (see sel_mentions), not set here.
            await ctx.reply(content, file=file)

        async def defer() -> None:
            await ctx.typing()

        return cls(send, defer)

    @classmethod
    def for_interaction(cls, interaction: discord.Interaction[Any]) -> Reply:
        async def send(content: str | None = None, *, file: discord.File | None = None) -> None:
            kwargs: dict[str, Any] = {} if file is None else {"file": file}
            if interaction.response.is_done():
                await interaction.followup.send(content or discord.utils.MISSING, **kwargs)
            else:
                await interaction.response.send_message(content, **kwargs)

        async def defer() -> None:
            if not interaction.response.is_done():
                await interaction.response.defer(thinking=True)

        return cls(send, defer)


async def _privileged(bot: commands.Bot, user: Any, guild: discord.Guild | None) -> bool:
    if await bot.is_owner(user):
        return True
    perms = getattr(user, "guild_permissions", None)
    return guild is not None and perms is not None and (perms.administrator or perms.manage_guild)


def owner_or_admin() -> Callable[[Any], Any]:
    async def predicate(ctx: commands.Context[Any]) -> bool:
        return await _privileged(ctx.bot, ctx.author, ctx.guild)

    return commands.check(predicate)


def slash_owner_or_admin() -> Callable[[Any], Any]:
    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        return await _privileged(interaction.client, interaction.user, interaction.guild)  # type: ignore[arg-type]

    return app_commands.check(predicate)


class SelCommands(commands.Cog):
    """Memory, mood, mode, status, voice and help."""

    sel = app_commands.Group(name="sel", description="Talk to SEL's controls")

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.runtime = bot.runtime
        self.brain = bot.brain
        self.memory = bot.runtime.memory
        self.voice: dict[int, Any] = {}  # guild id -> SpeakingQueue
        self.linked_text: dict[int, int] = {}  # guild id -> text channel whose replies are spoken

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:  # type: ignore[override]
        """Slash commands follow the same access rules as messages, except the data-rights ones."""
        from sel.frontends.discord_access import allowed
        from sel.frontends.discord_bot import is_data_right

        command = interaction.command.name if interaction.command is not None else ""
        if is_data_right(command, str(getattr(interaction.namespace, "setting", "") or "")):
            return True
        probe = SimpleNamespace(author=interaction.user, channel=interaction.channel, guild=interaction.guild)
        if not allowed(self.bot.settings, probe, owners=self.bot.owners):
            raise NotAllowedHere()
        return True

    # ---- implementations --------------------------------------------------------------

    async def do_memsvg(self, reply: Reply, user: Any, guild: discord.Guild | None) -> None:
        """The memory map holds every remembered fact: in a server it goes by DM, never to the channel."""
        if self.memory is None:
            return await reply.send(NO_MEMORY)
        uid = str(user.id)
        await reply.defer()
        if not await asyncio.to_thread(self.memory.has_consent, uid):
            prefix = self.bot.command_prefix
            return await reply.send(f"I don't keep memories about you. Turn it on with `{prefix}remember on`.")
        svg = await asyncio.to_thread(self.memory.svg, uid)
        file = discord.File(io.BytesIO(svg.encode()), "memory-map.svg")
        if guild is None:
            return await reply.send("Here's what I remember about you:", file=file)
        try:
            await user.send("Here's what I remember about you:", file=file)
        except discord.HTTPException:
            return await reply.send("I couldn't DM you; allow DMs from server members and try again.")
        await reply.send("Sent you a DM with your memory map.")

    async def do_remember(self, reply: Reply, user: Any, setting: str) -> None:
        if self.memory is None:
            return await reply.send(NO_MEMORY)
        on = setting.lower() in ("on", "yes", "1", "true")
        if setting.lower() not in ("on", "off", "yes", "no", "1", "0", "true", "false"):
            return await reply.send(
                f"Use `{self.bot.command_prefix}remember on` or `{self.bot.command_prefix}remember off`."
            )
        await asyncio.to_thread(self.memory.set_consent, str(user.id), on)
        if on:
            await reply.send("Okay! I'll remember things you tell me about yourself. `forget` deletes them anytime.")
        else:
            await reply.send(
                "Got it, I've stopped remembering things about you. (`forget` deletes what I already have.)"
            )

    async def do_forget(self, reply: Reply, user: Any, confirm: bool) -> None:
        if not confirm:
            return await reply.send(FORGET_WARNING.format(prefix=self.bot.command_prefix))
        await reply.defer()  # rewriting the store can take longer than Discord's 3 seconds
        await self.brain.forget(str(user.id))
        self.bot.history.drop_author(user.id)
        await reply.send("Done. I've forgotten everything about you.")

    async def do_export(self, reply: Reply, user: Any) -> None:
        if self.memory is None:
            return await reply.send(NO_MEMORY)
        await reply.defer()
        data = await asyncio.to_thread(self.memory.export, str(user.id))
        payload = json.dumps(data, indent=2, ensure_ascii=False).encode()
        try:
            await user.send("Everything I store about you:", file=discord.File(io.BytesIO(payload), "sel-export.json"))
        except discord.HTTPException:
            return await reply.send("I couldn't DM you; allow DMs from server members and try again.")
        await reply.send("Sent you a DM with your data.")

    async def do_mood(self, reply: Reply) -> None:
        await reply.send(f"```\n{self.brain.mood_report()}\n```")

    async def do_why(self, reply: Reply, channel_id: int | None) -> None:
        """Only the last decision in the asker's own channel: another channel's could be someone's DM."""
        await reply.send(self.brain.why(None if channel_id is None else str(channel_id)))

    async def do_mode(self, reply: Reply, name: str) -> None:
        try:
            mode = self.brain.set_mode(name)
        except SelError as err:
            return await reply.send(str(err))
        await reply.send(f"Mode is now **{mode.name}**.")

    async def do_status(self, reply: Reply) -> None:
        await reply.defer()
        engine = self.runtime.engine.status()
        memories = "off"
        if self.memory is not None:
            stats = await asyncio.to_thread(self.memory.stats)
            memories = str(stats.get("memories", stats))
        uptime = int(time.time() - self.runtime.started_at)
        last = engine.get("last") or {}
        lines = [
            "models: " + ", ".join(f"{slot}={Path(path).name}" for slot, path in engine["slots"].items()),
            "loaded: " + (", ".join(Path(p).name for p in engine["loaded"]) or "none yet"),
            f"gpu layers: {engine['gpu_layers']}",
            f"last reply: {last.get('tokens_per_second', 0)} tokens/s ({last.get('slot', '-')})",
            f"memories: {memories}",
            f"mode: {self.brain.mode.name}",
            f"uptime: {uptime // 3600}h {uptime % 3600 // 60}m",
        ]
        await reply.send("\n".join(lines))

    async def do_help(self, reply: Reply) -> None:
        await reply.send(HELP.format(prefix=self.bot.command_prefix, modes=", ".join(MODES)))

    async def do_join(self, reply: Reply, user: Any, guild: discord.Guild | None, text_channel: Any) -> None:
        problem = _voice_problem()
        if problem:
            return await reply.send(problem)
        state = getattr(user, "voice", None)
        if guild is None or state is None or state.channel is None:
            return await reply.send("Join a voice channel first, then ask me again.")
        await reply.defer()
        from sel.voice.speaking import SpeakingQueue

        client = guild.voice_client
        if client is None:
            client = await state.channel.connect()
        elif client.channel != state.channel:
            await client.move_to(state.channel)
        self.voice[guild.id] = SpeakingQueue(client)
        self.linked_text[guild.id] = text_channel.id
        await reply.send(f"Joined {state.channel.name}.")

    async def do_leave(self, reply: Reply, guild: discord.Guild | None) -> None:
        if guild is None or guild.voice_client is None:
            return await reply.send("I'm not in a voice channel.")
        await self._disconnect(guild)
        await reply.send("Left the voice channel.")

    async def do_say(self, reply: Reply, guild: discord.Guild | None, text: str) -> None:
        problem = _voice_problem()
        if problem:
            return await reply.send(problem)
        if guild is None or guild.id not in self.voice:
            return await reply.send(f"I'm not in a voice channel; use `{self.bot.command_prefix}join` first.")
        if not speakable(text):
            return await reply.send(f"Give me some words to say, e.g. `{self.bot.command_prefix}say hello everyone`.")
        await reply.defer()
        await self._speak(guild.id, speakable(text))
        await reply.send("🔊")

    # ---- voice helpers ----------------------------------------------------------------

    async def _speak(self, guild_id: int, text: str) -> None:
        from sel.voice.source import SpeechSource

        speech = await self.runtime.text_to_speech().speak(text)
        self.voice[guild_id].put(SpeechSource.from_speech(speech))

    async def speak_reply(self, guild: discord.Guild, channel: Any, text: str) -> None:
        """Speak a reply when SEL is in voice and SEL_TTS_DEFAULT=1 for the linked text channel."""
        if not self.bot.settings.tts_default or guild.id not in self.voice:
            return
        words = speakable(text)
        if self.linked_text.get(guild.id) != channel.id or not words:
            return
        try:
            await self._speak(guild.id, words)
        except SelError as err:
            log.warning("could not speak a reply: %s", err)

    async def _disconnect(self, guild: discord.Guild) -> None:
        queue = self.voice.pop(guild.id, None)
        self.linked_text.pop(guild.id, None)
        if queue is not None:
            await queue.close()
        if guild.voice_client is not None:
            await guild.voice_client.disconnect(force=True)

    async def stop_voice(self) -> None:
        for guild_id in list(self.voice):
            guild = self.bot.get_guild(guild_id)
            if guild is not None:
                await self._disconnect(guild)

    @commands.Cog.listener()
    async def on_voice_state_update(self, member: discord.Member, before: Any, after: Any) -> None:
        """Leave by itself when everyone else has left SEL's voice channel."""
        client = member.guild.voice_client
        if client is None or client.channel is None:
            return
        if not [m for m in client.channel.members if not m.bot]:
            await self._disconnect(member.guild)

    # ---- prefix commands --------------------------------------------------------------

    @commands.command(name="memsvg")
    async def memsvg_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_memsvg(Reply.for_context(ctx), ctx.author, ctx.guild)

    @commands.command(name="remember")
    async def remember_prefix(self, ctx: commands.Context[Any], setting: str = "") -> None:
        await self.do_remember(Reply.for_context(ctx), ctx.author, setting)

    @commands.command(name="forget")
    async def forget_prefix(self, ctx: commands.Context[Any], confirm: str = "") -> None:
        await self.do_forget(Reply.for_context(ctx), ctx.author, confirm.lower() == "confirm")

    @commands.command(name="export")
    async def export_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_export(Reply.for_context(ctx), ctx.author)

    @commands.command(name="mood")
    async def mood_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_mood(Reply.for_context(ctx))

    @commands.command(name="why")
    async def why_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_why(Reply.for_context(ctx), ctx.channel.id)

    @commands.command(name="mode")
    @owner_or_admin()
    async def mode_prefix(self, ctx: commands.Context[Any], name: str = "") -> None:
        await self.do_mode(Reply.for_context(ctx), name)

    @commands.command(name="status")
    async def status_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_status(Reply.for_context(ctx))

    @commands.command(name="help")
    async def help_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_help(Reply.for_context(ctx))

    @commands.command(name="join")
    async def join_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_join(Reply.for_context(ctx), ctx.author, ctx.guild, ctx.channel)

    @commands.command(name="leave")
    async def leave_prefix(self, ctx: commands.Context[Any]) -> None:
        await self.do_leave(Reply.for_context(ctx), ctx.guild)

    @commands.command(name="say")
    async def say_prefix(self, ctx: commands.Context[Any], *, text: str = "") -> None:
        await self.do_say(Reply.for_context(ctx), ctx.guild, text)

    async def cog_command_error(self, ctx: commands.Context[Any], error: Exception) -> None:
        if isinstance(error, commands.CheckFailure):
            await ctx.reply(NO_RIGHTS)
            return
        cause = getattr(error, "original", error)
        if isinstance(cause, SelError):  # a user-fixable problem: its message says what to do
            await ctx.reply(str(cause))
            return
        log.error("command %s failed", ctx.command, exc_info=error)
        await ctx.reply("Something went wrong with that command.")

    # ---- slash commands (/sel ...) ------------------------------------------------------

    @sel.command(name="memsvg", description="A map of what SEL remembers about you")
    async def memsvg_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_memsvg(Reply.for_interaction(interaction), interaction.user, interaction.guild)

    @sel.command(name="remember", description="Let SEL remember things about you (on) or stop (off)")
    @app_commands.choices(
        setting=[app_commands.Choice(name="on", value="on"), app_commands.Choice(name="off", value="off")]
    )
    async def remember_slash(self, interaction: discord.Interaction[Any], setting: str) -> None:
        await self.do_remember(Reply.for_interaction(interaction), interaction.user, setting)

    @sel.command(name="forget", description="Delete everything SEL knows about you")
    async def forget_slash(self, interaction: discord.Interaction[Any], confirm: bool = False) -> None:
        await self.do_forget(Reply.for_interaction(interaction), interaction.user, confirm)

    @sel.command(name="export", description="Everything SEL stores about you, by DM")
    async def export_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_export(Reply.for_interaction(interaction), interaction.user)

    @sel.command(name="mood", description="SEL's hormone levels and mood")
    async def mood_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_mood(Reply.for_interaction(interaction))

    @sel.command(name="why", description="Why SEL answered (or not) the last message")
    async def why_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_why(Reply.for_interaction(interaction), interaction.channel_id)

    @sel.command(name="mode", description="Switch SEL's personality mode (owner/admins)")
    @app_commands.choices(name=[app_commands.Choice(name=m, value=m) for m in MODES])
    @slash_owner_or_admin()
    async def mode_slash(self, interaction: discord.Interaction[Any], name: str) -> None:
        await self.do_mode(Reply.for_interaction(interaction), name)

    @sel.command(name="status", description="Models, speed, memory and uptime")
    async def status_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_status(Reply.for_interaction(interaction))

    @sel.command(name="help", description="What SEL can do")
    async def help_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_help(Reply.for_interaction(interaction))

    @sel.command(name="join", description="SEL joins your voice channel")
    async def join_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_join(Reply.for_interaction(interaction), interaction.user, interaction.guild, interaction.channel)

    @sel.command(name="leave", description="SEL leaves the voice channel")
    async def leave_slash(self, interaction: discord.Interaction[Any]) -> None:
        await self.do_leave(Reply.for_interaction(interaction), interaction.guild)

    @sel.command(name="say", description="SEL says something in the voice channel")
    async def say_slash(self, interaction: discord.Interaction[Any], text: str) -> None:
        await self.do_say(Reply.for_interaction(interaction), interaction.guild, text)

    async def cog_app_command_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        cause = getattr(error, "original", error)
        if isinstance(error, NotAllowedHere):
            message = NOT_HERE
        elif isinstance(error, app_commands.CheckFailure):
            message = NO_RIGHTS
        elif isinstance(cause, SelError):
            message = str(cause)
        else:
            message = "Something went wrong with that command."
            log.error("slash command failed", exc_info=error)
        await Reply.for_interaction(interaction).send(message)


def _voice_problem() -> str:
    from sel.voice.deps import voice_support

    missing = voice_support()
    if not missing:
        return ""
    return "Voice isn't set up on this SEL: " + "; ".join(missing)
