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
from sel.config_paths import folder_error
from sel.config_slices import DiscordSettings
from sel.frontends.discord.access import allowed, owners_of
from sel.frontends.discord.attachments import image_urls, read_attachments
from sel.frontends.discord.checkins import CheckinBook
from sel.frontends.discord.history import ConversationLog, Entry, to_turns
from sel.frontends.discord.incoming import clean_text, entry_of, incoming_of, own_words, shown_above, with_attachments
from sel.frontends.discord.lanes import Job, Lanes
from sel.frontends.discord.last_replies import Redo
from sel.frontends.discord.resets import load_starts, save_starts
from sel.frontends.discord.responder import Responder
from sel.frontends.discord.voice import Voice

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0
NOTHING_TO_RETRY = "There's nothing to retry: I haven't answered you in this channel (since a reset or restart)."
NOTHING_TO_CONTINUE = "There's nothing to continue: my last reply here was complete."
BUSY = "I'm still writing a reply here; try again when it's done."


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
        # Staleness is checked on arrival (on_message) and again when a waiting message's turn comes.
        self.lanes = Lanes(self._answer, self._listen_only, stale=lambda job: self._stale(job.message))
        self.checkins = CheckinBook(settings)
        self._fetched: set[int] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.history.starts.update(await asyncio.to_thread(load_starts, self.app.settings.data_dir))
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
        elif allowed(self.settings, message, owners=owners_of(self.bot), rules=self.app.owner_settings):
            await self._consider(message, me)

    async def _consider(self, message: discord.Message, me: discord.ClientUser) -> None:
        """Decide once; stay silent, or read the attachments and queue a reply."""
        incoming = incoming_of(message, me, reply_to_sel=self._replies_to_sel(message, me), name=self._name)
        if not incoming.text.strip() and not incoming.attachments:
            return
        decision = self.app.brain.decide(incoming, now=self.clock())
        if decision.silent:
            await self.app.brain.listen(incoming, decision)
            return
        job = await self._read_attachments(Job(message, incoming, decision))
        if job is not None:
            self.checkins.saw_message(message.channel.id, self.clock(), to_sel=True, author=message.author.display_name)
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
        if isinstance(job, Redo):
            await self._redo(job)
            return
        guild = job.message.guild
        # With spoken replies on, the reply is spoken while it is written, sentence by sentence.
        speech = self.voice.reply_speech(guild, job.message.channel.id) if guild is not None else None
        if speech is not None:
            self.responder.spoken[job.message.id] = speech.add
        try:
            said = await self.responder.answer(job)
        finally:
            self.responder.spoken.pop(job.message.id, None)
            if speech is not None:
                speech.finish()
        if said is None:
            return
        self.checkins.sel_spoke(job.message.channel.id, self.clock())

    async def _listen_only(self, job: Job) -> None:
        """A waiting message replaced by a newer one, pushed out of line, or stale by its turn: SEL
        learns from it but does not answer it."""
        try:
            await self.app.brain.listen(job.incoming, job.decision)
        except Exception:
            log.exception("could not take in a superseded message")

    # ---- retry, continue, reset -------------------------------------------------------------------

    def retry(self, channel_id: int, author_id: int) -> str:
        """Start regenerating SEL's last reply to this person here; returns what to tell them ("" when
        the edited reply says it all)."""
        sent = self.responder.replies.to(channel_id, author_id)
        if sent is None:
            return NOTHING_TO_RETRY
        return self._start_redo(Redo(sent.job.message, sent.job.incoming, sent.job.decision, sent.job.prefix, sent))

    def extend(self, channel_id: int) -> str:
        """Start continuing SEL's last reply here, if it stopped at its length limit."""
        sent = self.responder.replies.last(channel_id)
        if sent is None or not sent.hit_length:
            return NOTHING_TO_CONTINUE
        job = sent.job
        return self._start_redo(Redo(job.message, job.incoming, job.decision, job.prefix, sent, extend=True))

    def _start_redo(self, redo: Redo) -> str:
        channel_id = redo.message.channel.id
        if channel_id in self.lanes.running or channel_id in self.lanes.pending:
            return BUSY  # the reply being written may become the last one: retrying now would race it
        self.lanes.submit(channel_id, redo)
        return ""

    async def _redo(self, redo: Redo) -> None:
        assert redo.sent is not None
        done = await (self.responder.extend(redo.sent) if redo.extend else self.responder.retry(redo.sent))
        if done:
            self.checkins.sel_spoke(redo.message.channel.id, self.clock())

    async def reset(self, channel_id: int, upto: int) -> None:
        """Start afresh in a channel: messages up to ``upto`` leave the prompts, for good (kept on disk).
        Memories and the mood are untouched."""
        self.history.start_after(channel_id, upto)
        self.responder.replies.drop_channel(channel_id)
        data_dir = self.app.settings.data_dir
        try:
            await asyncio.to_thread(save_starts, data_dir, dict(self.history.starts))
        except OSError as err:  # it holds until SEL stops; only keeping it failed
            raise folder_error("SEL_DATA_DIR", data_dir, err) from None

    def _stale(self, message: discord.Message) -> bool:
        return self.clock() - message.created_at.timestamp() > self.settings.drop_old_seconds

    def _replies_to_sel(self, message: discord.Message, me: discord.ClientUser) -> bool:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        entry = self.history.find(message.channel.id, reference.message_id)
        resolved = reference.resolved
        return bool(entry and entry.from_sel) or (isinstance(resolved, discord.Message) and resolved.author.id == me.id)

    @property
    def _name(self) -> str:
        """SEL's name from sel.toml, read per message so an edit applies to the next one."""
        return self.app.owner_settings.name

    # ---- history --------------------------------------------------------------------------------

    async def _remember(self, message: discord.Message, me: discord.ClientUser) -> None:
        await self._read_recent(message, me)
        self.history.record(message.channel.id, entry_of(message, me, self._name))
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
            self.history.record(channel.id, entry_of(m, me, self._name))
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
        self.history.update(payload.channel_id, payload.message_id, clean_text(payload.message, me, self._name))

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
        if not (self.settings.checkins or self.app.owner_settings.turns_on("checkins")):
            return
        levels = self.app.brain.hormones.levels
        for channel_id in self.checkins.due(now, levels):
            if channel_id not in self.lanes.running and self._checkins_here(channel_id):
                await self._check_in(channel_id, now)

    def _checkins_here(self, channel_id: int) -> bool:
        """SEL_CHECKINS, unless sel.toml turns check-ins on or off for this channel or its server."""
        guild = getattr(self.bot.get_channel(channel_id), "guild", None)
        here = self.app.place(str(guild.id) if guild is not None else "", str(channel_id)).checkins
        return self.settings.checkins if here is None else here

    async def _check_in(self, channel_id: int, now: float) -> None:
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        guild = getattr(channel, "guild", None)
        text = await self._check_in_text(channel_id, str(guild.id) if guild is not None else "", now)
        try:
            sent = await channel.send(text)
        except discord.HTTPException as err:
            log.info("check-in in %s failed: %s", channel_id, err)
            return
        self.checkins.checked_in(channel_id, now)
        self.history.record(channel_id, Entry(sent.id, sent.author.id, "SEL", text, True))

    async def _check_in_text(self, channel_id: int, guild_id: str, now: float) -> str:
        """What the model writes for the check-in, for the people who talked with SEL lately; a canned
        line only when the model fails. Mentions are shown, never pinged (see bot.sel_mentions)."""
        entries, cut = self.history.before(channel_id, 0)
        people = self.checkins.people(channel_id, now)
        try:
            turns = to_turns(entries, cut=cut)
            text = await self.app.brain.check_in(str(channel_id), turns, people, guild_id=guild_id)
        except Exception as err:  # the model's trouble: the channel still gets its check-in
            log.warning("the model could not write a check-in for channel %s: %s", channel_id, err)
            text = ""
        if not text:
            log.warning("check-in for channel %s: a canned line, as the model wrote none", channel_id)
            text = self.checkins.line(now, self.app.brain.hormones.levels)
        return discord.utils.escape_mentions(text)
