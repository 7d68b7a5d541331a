"""SEL listening in one voice channel: receive (receive.py) -> turns (hearing.py) -> talk (voice_talk.py),
and barge-in: when an opted-in person starts talking while SEL speaks, SEL stops.

Only people who opted in (`listen on`) are heard; everyone else's packets are dropped before they
are decrypted, and a withdrawal drops what was being heard from that person at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from sel.app import App
from sel.frontends.discord.hearing import Hearing
from sel.frontends.discord.receive import ListeningVoiceClient
from sel.frontends.discord.speaking import SpeakingQueue
from sel.frontends.discord.spoken_reply import SpokenReply
from sel.frontends.discord.voice_talk import VoiceTalk
from sel.voice.turns import TurnSettings, Utterance

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1  # how often silence (no packets at all) is checked for the end of a turn


class Listening:
    """One server's voice channel, heard. Create it inside the running loop; :meth:`close` it on leaving."""

    def __init__(
        self,
        app: App,
        client: ListeningVoiceClient,
        queue: SpeakingQueue,
        talk: VoiceTalk,
        *,
        turns: TurnSettings | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.queue = queue
        self.talk = talk
        self.reply: SpokenReply | None = None  # the reply SEL is speaking now, for barge-in
        self.barge_ins = 0
        self._tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        self.hearing = Hearing(loop, self._started, self._heard, settings=turns)
        client.listen(self.hearing.hear, app.listens_to)
        self._ticker = loop.create_task(self._tick_forever(), name="sel-hearing-tick")

    def spoken_reply(self) -> SpokenReply:
        """A new reply to speak here; it becomes the one a barge-in stops."""
        self.reply = SpokenReply(self.app, self.queue)
        return self.reply

    def forget(self, user_id: int) -> None:
        """The person opted out: drop their half-heard turn (new packets are dropped unopened)."""
        self.hearing.forget(user_id)

    async def close(self) -> None:
        self.client.stop_listening()
        self._ticker.cancel()
        for task in [self._ticker, *self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _started(self, user_id: int) -> None:
        """Someone started talking: if SEL is speaking, it stops (barge-in)."""
        if not self.client.is_playing() and not self.queue.pending:
            return
        log.info("barge-in: a person started talking over SEL in guild %s; SEL stops speaking", self.client.guild.id)
        self.barge_ins += 1
        if self.reply is not None:
            self.reply.stop()
        self.queue.clear()
        self.client.stop()

    def _heard(self, user_id: int, utterance: Utterance) -> None:
        if not self.app.listens_to(user_id):
            return  # withdrew while speaking
        member = self.client.guild.get_member(user_id)
        if member is None:
            return
        task = asyncio.get_running_loop().create_task(self._talk(member, utterance), name="sel-voice-turn")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _talk(self, member: discord.Member, utterance: Utterance) -> None:
        try:
            await self.talk.heard(member, utterance, self.client.guild.id)
        except Exception:
            log.exception("could not take in a voice turn")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.hearing.tick()
