"""SEL in voice channels: joining, leaving, saying things, listening, and speaking its replies.

Replies are spoken while they are written (:class:`SpokenReply`, sentence by sentence), in the
voice channel of the server whose linked text channel they are written in: always for what SEL
heard in voice, and for typed messages when SEL_TTS_DEFAULT=1. Each clip waits its turn in the
guild's :class:`SpeakingQueue`, so none cuts another off. SEL hears only people who opted in
(`listen on`), and says so in the text channel when it joins (see listening.py).
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from sel.app import App
from sel.config import DiscordSettings
from sel.frontends.discord.listening import Listening
from sel.frontends.discord.receive import ListeningVoiceClient
from sel.frontends.discord.speaking import SpeakingQueue
from sel.frontends.discord.spoken_reply import SpokenReply
from sel.frontends.discord.voice_support import voice_support
from sel.frontends.discord.voice_talk import VoiceTalk
from sel.voice.speakable import speakable
from sel.voice.turns import TurnSettings
from sel.voice.vad import load_vad

log = logging.getLogger(__name__)

Context = commands.Context[commands.Bot]

LISTENING_NOTE = (
    "I'm listening in {channel} to people who opted in with `{prefix}listen on` (`{prefix}listen off` stops it). "
    "I don't record or keep audio."
)
LISTEN_ON = "Okay, I'll listen to you in voice channels. `{prefix}listen off` stops it."
LISTEN_OFF = "I've stopped listening to you in voice channels."


class Voice(commands.Cog):
    """The voice channel SEL is in, per server, and the text channel whose replies it speaks there."""

    def __init__(self, bot: commands.Bot, app: App, settings: DiscordSettings) -> None:
        self.bot = bot
        self.app = app
        self.settings = settings
        self.queues: dict[int, SpeakingQueue] = {}  # guild id -> what SEL says there, in order
        self.linked_text: dict[int, int] = {}  # guild id -> text channel whose replies are spoken
        self.listening: dict[int, Listening] = {}  # guild id -> SEL hearing its voice channel

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
        if not isinstance(client, ListeningVoiceClient):
            client = await state.channel.connect(cls=ListeningVoiceClient)
        elif client.channel != state.channel:
            await client.move_to(state.channel)
        await self._link(ctx.guild.id, client, ctx.channel)
        note = LISTENING_NOTE.format(channel=state.channel.name, prefix=self.settings.prefix)
        await ctx.reply(f"Joined {state.channel.name}. {note}")

    async def _link(self, guild_id: int, client: ListeningVoiceClient, text: discord.abc.Messageable) -> None:
        """Speak (and listen) in ``client``'s channel; this text channel is where the talk is written."""
        old = self.listening.pop(guild_id, None)
        if old is not None:
            await old.close()
        queue = self.queues.get(guild_id)
        if queue is None or queue.voice_client is not client:
            queue = self.queues[guild_id] = SpeakingQueue(client)
        channel_id = getattr(text, "id", 0)
        self.linked_text[guild_id] = channel_id
        talk = VoiceTalk(self.app, self.settings, text, channel_id, lambda: self.spoken_reply(guild_id))
        # Read the opt-in list and load the VAD now, in a thread, not in the socket thread at the first packet.
        await asyncio.to_thread(self.app.listens_to, 0)
        await asyncio.to_thread(load_vad)
        turns = TurnSettings(end_silence=self.app.settings.voice.voice_end_silence)
        self.listening[guild_id] = Listening(self.app, client, queue, talk, turns=turns)

    async def listen(self, ctx: Context, setting: str) -> None:
        """`listen on|off`: the asker's opt-in to being heard in voice channels."""
        on = {"on": True, "off": False}.get(setting.strip().lower())
        if on is None:
            await ctx.reply(f"Use `{self.settings.prefix}listen on` or `{self.settings.prefix}listen off`.")
            return
        await self.app.set_listening(ctx.author.id, on)
        if not on:
            for listening in self.listening.values():
                listening.forget(ctx.author.id)
        await ctx.reply(LISTEN_ON.format(prefix=self.settings.prefix) if on else LISTEN_OFF)

    def spoken_reply(self, guild_id: int) -> SpokenReply | None:
        """A reply to speak in the server's voice channel as it is written (None when SEL is not in one)."""
        listening = self.listening.get(guild_id)
        return listening.spoken_reply() if listening is not None else None

    def reply_speech(self, guild: discord.Guild, channel_id: int) -> SpokenReply | None:
        """For a typed message's reply: its speech, when SEL_TTS_DEFAULT=1 (or sel.toml's spoken_replies
        for the channel or server) and the channel is linked to voice."""
        spoken = self.app.place(str(guild.id), str(channel_id)).spoken_replies
        on = self.settings.tts_default if spoken is None else spoken
        if not on or self.linked_text.get(guild.id) != channel_id:
            return None
        return self.spoken_reply(guild.id)

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

    async def _speak(self, guild_id: int, text: str) -> None:
        """Say ``text`` sentence by sentence; returns once every sentence is made and queued (or a barge-in)."""
        speech = self.spoken_reply(guild_id)
        if speech is None:
            return  # SEL left the channel meanwhile
        speech.add(text)
        speech.finish()
        await speech.done()

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
        listening = self.listening.pop(guild.id, None)
        if listening is not None:
            await listening.close()
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
