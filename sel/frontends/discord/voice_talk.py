"""Talking with SEL in a voice channel: what was heard is transcribed, then goes the way a text
message goes: ``brain.decide`` on it (name, direct address, a conversation with SEL under way),
silence (``brain.listen``, so memory consent applies as for text) or a reply, written in the linked
text channel and spoken sentence by sentence while it is written.

The transcript is the message: it enters the brain under the linked text channel's id, so SEL's
sense of who it is talking with is shared between typing and speaking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

import discord

from sel.app import App
from sel.config import DiscordSettings
from sel.domain import Decision, IncomingMessage, Thought, Turn
from sel.errors import SelError
from sel.frontends.discord.spoken_reply import SpokenReply
from sel.frontends.discord.stream import StreamingReply
from sel.voice.audio import OPUS_RATE
from sel.voice.turns import Utterance

log = logging.getLogger(__name__)

# Whisper reads these as what came before the turn and a name to expect, so "SEL" comes out as SEL,
# not "So" or "Cell" (with tiny.en, either alone still misses it in some sentences).
HEARING_PROMPT = "A voice chat with SEL, a bot."
HEARING_HOTWORDS = "SEL"
VOICE_HISTORY = 20  # turns of the voice conversation kept as context


class VoiceTalk:
    """The voice conversation in one server: one reply at a time, in the order people spoke."""

    def __init__(
        self,
        app: App,
        settings: DiscordSettings,
        text_channel: discord.abc.Messageable,
        channel_id: int,
        spoken: Callable[[], SpokenReply | None],
    ) -> None:
        self.app = app
        self.settings = settings
        self.text_channel = text_channel
        self.channel_id = channel_id
        self.spoken = spoken  # a new spoken reply in this server's voice channel (None: SEL left it)
        self.history: deque[Turn] = deque(maxlen=VOICE_HISTORY)
        self.transcribed = 0  # turns transcribed (tests check nobody else's are)
        self._turn = asyncio.Lock()

    async def heard(self, member: discord.abc.User, utterance: Utterance, guild_id: int) -> None:
        """Someone who opted in finished a turn: transcribe it, decide, maybe answer."""
        async with self._turn:
            transcript = await self.app.hear(
                utterance.pcm, rate=OPUS_RATE, prompt=HEARING_PROMPT, hotwords=HEARING_HOTWORDS
            )
            self.transcribed += 1
            text = transcript.text.strip()
            if not text:
                return
            incoming = IncomingMessage(
                author_id=str(member.id),
                author_name=member.display_name,
                channel_id=str(self.channel_id),
                text=text,
                created_at=time.time(),
                guild_id=str(guild_id),
            )
            decision = self.app.brain.decide(incoming)
            if decision.silent:
                await self.app.brain.listen(incoming, decision)
                self.history.append(Turn(incoming.author_name, text))
                return
            await self._answer(incoming, decision)

    async def _answer(self, incoming: IncomingMessage, decision: Decision) -> None:
        heard = f"-# heard {incoming.author_name}: {incoming.text}\n"
        send = self.text_channel.send
        reply = StreamingReply(send, send, interval=self.settings.edit_interval, stream=self.settings.stream)
        reply.text = heard
        speech = self.spoken()
        history = list(self.history)
        try:
            await self._stream(incoming, history, decision, reply, speech)
            await reply.finish()
        except (SelError, discord.HTTPException) as err:
            log.warning("could not answer a voice turn in channel %s: %s", self.channel_id, err)
            if speech is not None:
                speech.stop()
            return
        finally:
            if speech is not None:
                speech.finish()  # speaks the last words (or, after stop(), just ends its task)
        said = reply.text[len(heard) :]
        self.history.extend([Turn(incoming.author_name, incoming.text), Turn("SEL", said, from_sel=True)])

    async def _stream(
        self,
        incoming: IncomingMessage,
        history: list[Turn],
        decision: Decision,
        reply: StreamingReply[discord.Message],
        speech: SpokenReply | None,
    ) -> None:
        stream = self.app.brain.respond(incoming, history, decision)
        async with contextlib.aclosing(stream):  # closing it cancels the generation
            async for chunk in stream:
                if isinstance(chunk, Thought):
                    continue  # reasoning is never read aloud, nor posted for a voice turn
                if speech is not None:
                    speech.add(chunk)
                await reply.add(chunk)
