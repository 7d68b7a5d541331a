"""The conversation: every message SEL sees, and the one path from a message to a reply.

gateway event -> history -> staleness and bot checks -> a command (run with its own checks), or:
access lists -> ``brain.decide`` once, on the text and the attachments' names, types and sizes ->
silence (``brain.listen``; nothing downloaded) or attachments read, then a reply streamed by the
responder. One reply per channel at a time (see lanes.py). Time passes here too: the mood decays
and check-ins are posted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import discord
from discord.ext import commands

from sel.app import App
from sel.config import DiscordSettings
from sel.frontends.discord.access import allowed, owners_of
from sel.frontends.discord.attachments import image_urls, read_attachments
from sel.frontends.discord.checkins import CheckinBook
from sel.frontends.discord.history import ConversationLog, Entry
from sel.frontends.discord.incoming import clean_text, entry_of, incoming_of, own_words, shown_above, with_attachments
from sel.frontends.discord.lanes import Job, Lanes
from sel.frontends.discord.responder import Responder
from sel.frontends.discord.voice import Voice

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0


class Conversation(commands.Cog):
    """Reads every message, decides once whether SEL answers, and keeps the channels' history."""

    def __init__(
        self,
        bot: commands.Bot,
        app: App,
        settings: DiscordSettings,
        voice: Voice,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.app = app
        self.settings = settings
        self.voice = voice
        self.clock = clock
        self.history = ConversationLog(settings.history_limit)
        self.responder = Responder(bot, app, settings, self.history)
        self.lanes = Lanes(self._answer, self._listen_only)
        self.checkins = CheckinBook(settings)
        self._fetched: set[int] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._ticker = asyncio.create_task(self._tick_forever(), name="sel-tick")

    async def cog_unload(self) -> None:
        """On shutdown: stop the clock and cancel the replies in progress (their generations stop too)."""
        if self._ticker is not None:
            self._ticker.cancel()
        await self.lanes.cancel_all()

    # ---- messages -------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.id == me.id:
            return  # SEL's own messages enter the history when their final text is known
        await self._remember(message, me)
        if message.author.bot or self._stale(message):
            return
        ctx = await self.bot.get_context(message)
        if ctx.valid:
            await self.bot.invoke(ctx)  # each command's checks apply the access lists
        elif allowed(self.settings, message, owners=owners_of(self.bot)):
            await self._consider(message, me)

    async def _consider(self, message: discord.Message, me: discord.ClientUser) -> None:
        """Decide once; stay silent, or read the attachments and queue a reply."""
        incoming = incoming_of(message, me, reply_to_sel=self._replies_to_sel(message, me))
        if not incoming.text.strip() and not incoming.attachments:
            return
        decision = self.app.brain.decide(incoming, now=self.clock())
        if decision.silent:
            await self.app.brain.listen(incoming, decision)
            return
        job = await self._read_attachments(Job(message, incoming, decision))
        if job is not None:
            self.checkins.saw_message(message.channel.id, self.clock(), to_sel=True)
            self.lanes.submit(message.channel.id, job)

    async def _read_attachments(self, job: Job) -> Job | None:
        """The job with what its attachments say (None when SEL answered with a refusal instead).

        Only messages SEL answers get here: nothing is downloaded or transcribed for the others.
        """
        message = job.message
        if not message.attachments:
            return job
        read = await read_attachments(message, own_words(job.incoming), self.app.settings.voice, self.app)
        if read.problem:
            await self.responder.say(message, read.problem)
            return None
        vision = self.app.brain.vision_available
        incoming = with_attachments(job.incoming, read, await image_urls(message) if vision else ())
        # What the files say can change the route (a trace in a .txt is code), not whether SEL answers.
        decision = self.app.brain.reroute(job.decision, incoming)
        return Job(message, incoming, decision, shown_above(read))

    async def _answer(self, job: Job) -> None:
        said = await self.responder.answer(job)
        if said is None:
            return
        self.checkins.sel_spoke(job.message.channel.id, self.clock())
        if job.message.guild is not None:
            await self.voice.speak_reply(job.message.guild, job.message.channel.id, said)

    async def _listen_only(self, job: Job) -> None:
        """A waiting message replaced by a newer one: SEL learns from it but does not answer it."""
        try:
            await self.app.brain.listen(job.incoming, job.decision)
        except Exception:
            log.exception("could not take in a superseded message")

    def _stale(self, message: discord.Message) -> bool:
        return self.clock() - message.created_at.timestamp() > self.settings.drop_old_seconds

    def _replies_to_sel(self, message: discord.Message, me: discord.ClientUser) -> bool:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        entry = self.history.find(message.channel.id, reference.message_id)
        resolved = reference.resolved
        return bool(entry and entry.from_sel) or (isinstance(resolved, discord.Message) and resolved.author.id == me.id)

    # ---- history --------------------------------------------------------------------------------

    async def _remember(self, message: discord.Message, me: discord.ClientUser) -> None:
        await self._read_recent(message, me)
        self.history.record(message.channel.id, entry_of(message, me))
        self.checkins.saw_message(message.channel.id, self.clock(), to_sel=False)

    async def _read_recent(self, message: discord.Message, me: discord.ClientUser) -> None:
        """On first contact with a channel, read its recent messages (once)."""
        channel = message.channel
        if channel.id in self._fetched or self.history.knows(channel.id):
            self._fetched.add(channel.id)
            return
        self._fetched.add(channel.id)
        limit = self.settings.history_limit
        try:
            fetched = [m async for m in channel.history(limit=limit, before=message)]
        except discord.HTTPException as err:
            log.info("could not read the history of channel %s: %s", channel.id, err)
            return
        for m in reversed(fetched):
            self.history.record(channel.id, entry_of(m, me))
        if len(fetched) >= limit:
            self.history.mark_cut(channel.id)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.history.remove(payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Someone edited a message: the conversation SEL reads shows the new text."""
        me = self.bot.user
        if me is None or payload.message.author.id == me.id:
            return  # SEL's own streaming edits: its history holds the final text already
        self.history.update(payload.channel_id, payload.message_id, clean_text(payload.message, me))

    @commands.Cog.listener()
    async def on_typing(self, channel: discord.abc.Messageable, user: object, when: object) -> None:
        channel_id = getattr(channel, "id", None)
        if isinstance(channel_id, int):
            self.checkins.saw_typing(channel_id, self.clock())

    # ---- time -----------------------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self.tick()
            except Exception:
                log.exception("periodic tick failed")

    async def tick(self) -> None:
        """Let time act on the mood, and post any check-ins that are due."""
        now = self.clock()
        self.app.brain.tick(now)
        if not self.settings.checkins:
            return
        levels = self.app.brain.hormones.levels
        for channel_id in self.checkins.due(now, levels):
            if channel_id not in self.lanes.running:
                await self._check_in(channel_id, self.checkins.line(now, levels), now)

    async def _check_in(self, channel_id: int, text: str, now: float) -> None:
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        try:
            sent = await channel.send(text)
        except discord.HTTPException as err:
            log.info("check-in in %s failed: %s", channel_id, err)
            return
        self.checkins.checked_in(channel_id, now)
        self.history.record(channel_id, Entry(sent.id, sent.author.id, "SEL", text, True))
