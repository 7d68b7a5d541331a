"""SEL in voice channels: joining, leaving, saying things, and speaking its replies (SEL_TTS_DEFAULT=1).

Speech is made by the App sentence by sentence, so playback starts after the first sentence;
each clip waits its turn in the guild's :class:`SpeakingQueue`, so none cuts another off.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from sel.app import App
from sel.config import DiscordSettings
from sel.errors import SelError
from sel.frontends.discord.speaking import SpeakingQueue
from sel.frontends.discord.speech_source import SpeechSource
from sel.frontends.discord.voice_support import voice_support
from sel.voice.speakable import speakable

log = logging.getLogger(__name__)

Context = commands.Context[commands.Bot]


class Voice(commands.Cog):
    """The voice channel SEL is in, per server, and the text channel whose replies it speaks there."""

    def __init__(self, bot: commands.Bot, app: App, settings: DiscordSettings) -> None:
        self.bot = bot
        self.app = app
        self.settings = settings
        self.queues: dict[int, SpeakingQueue] = {}  # guild id -> what SEL says there, in order
        self.linked_text: dict[int, int] = {}  # guild id -> text channel whose replies are spoken

    async def join(self, ctx: Context) -> None:
        """Join the asker's voice channel; replies in this text channel are spoken there."""
        problem = await _voice_problem()
        if problem:
            await ctx.reply(problem)
            return
        state = getattr(ctx.author, "voice", None)
        if ctx.guild is None or state is None or state.channel is None:
            await ctx.reply("Join a voice channel first, then ask me again.")
            return
        await ctx.typing()  # connecting can take longer than Discord's 3 seconds
        client = ctx.guild.voice_client
        if not isinstance(client, discord.VoiceClient):
            client = await state.channel.connect()
        elif client.channel != state.channel:
            await client.move_to(state.channel)
        self.queues[ctx.guild.id] = SpeakingQueue(client)
        self.linked_text[ctx.guild.id] = ctx.channel.id
        await ctx.reply(f"Joined {state.channel.name}.")

    async def leave(self, ctx: Context) -> None:
        if ctx.guild is None or ctx.guild.voice_client is None:
            await ctx.reply("I'm not in a voice channel.")
            return
        await self._disconnect(ctx.guild)
        await ctx.reply("Left the voice channel.")

    async def say(self, ctx: Context, text: str) -> None:
        problem = await _voice_problem()
        if problem:
            await ctx.reply(problem)
            return
        prefix = self.settings.prefix
        if ctx.guild is None or ctx.guild.id not in self.queues:
            await ctx.reply(f"I'm not in a voice channel; use `{prefix}join` first.")
            return
        if not speakable(text):
            await ctx.reply(f"Give me some words to say, e.g. `{prefix}say hello everyone`.")
            return
        await ctx.typing()
        await self._speak(ctx.guild.id, text)
        await ctx.reply("🔊")

    async def speak_reply(self, guild: discord.Guild, channel_id: int, text: str) -> None:
        """Speak a reply when SEL is in voice and SEL_TTS_DEFAULT=1 for the linked text channel."""
        if not self.settings.tts_default or self.linked_text.get(guild.id) != channel_id:
            return
        if not speakable(text):
            return
        try:
            await self._speak(guild.id, text)
        except SelError as err:
            log.warning("could not speak a reply: %s", err)

    async def _speak(self, guild_id: int, text: str) -> None:
        async for speech in self.app.speak_sentences(text):
            # Resampling to 48 kHz stereo blocks for a moment per sentence: off the event loop.
            source = await asyncio.to_thread(SpeechSource.from_speech, speech)
            queue = self.queues.get(guild_id)
            if queue is None:
                return  # SEL left the channel while it was still making the speech
            queue.put(source)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Leave by itself when everyone else has left SEL's voice channel."""
        client = member.guild.voice_client
        channel = getattr(client, "channel", None)
        if client is None or channel is None:
            return
        if not [m for m in channel.members if not m.bot]:
            await self._disconnect(member.guild)

    async def cog_unload(self) -> None:
        """On shutdown: stop speaking and leave every voice channel."""
        for guild_id in list(self.queues):
            guild = self.bot.get_guild(guild_id)
            if guild is not None:
                await self._disconnect(guild)

    async def _disconnect(self, guild: discord.Guild) -> None:
        queue = self.queues.pop(guild.id, None)
        self.linked_text.pop(guild.id, None)
        if queue is not None:
            await queue.close()
        if guild.voice_client is not None:
            await guild.voice_client.disconnect(force=True)


async def _voice_problem() -> str:
    """What keeps SEL out of voice channels on this machine, or "" (it looks for libopus: in a thread)."""
    missing = await asyncio.to_thread(voice_support)
    if not missing:
        return ""
    return "Voice isn't set up on this SEL: " + "; ".join(missing)
