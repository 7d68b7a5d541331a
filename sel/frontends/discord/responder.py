"""Answering one message: its context, the brain's reply streamed into Discord by editing, the final
text recorded in the conversation history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import discord
from discord.ext import commands

from sel.app import App
from sel.config import DiscordSettings
from sel.domain import Thought, Turn
from sel.errors import SelError, ServerUnavailableError, render_error
from sel.frontends.discord.history import ConversationLog, Entry, reply_chain, to_turns
from sel.frontends.discord.incoming import entry_of
from sel.frontends.discord.lanes import Job
from sel.frontends.discord.last_replies import LastReplies, SentReply
from sel.frontends.discord.progress import Progress
from sel.frontends.discord.reasoning import reasoning_post
from sel.frontends.discord.stream import Send, StreamingReply

log = logging.getLogger(__name__)

MODEL_TROUBLE = "I can't think right now: my model isn't working. The owner can run `sel doctor`."
SERVER_DOWN = "I can't reach my language model right now — I'll be back as soon as it is."
FINISH_RETRY_PAUSES = (1.0, 2.0, 4.0)  # before each new try at a reply Discord refused (discord.py retried already)


class Responder:
    """Streams SEL's replies into Discord and keeps their final text in the conversation history."""

    def __init__(self, bot: commands.Bot, app: App, settings: DiscordSettings, history: ConversationLog) -> None:
        self.bot = bot
        self.app = app
        self.settings = settings
        self.history = history
        self.progress = Progress()  # the engine watchdog reads it (watch.py)
        self.replies = LastReplies()  # what `retry` and `continue` work on
        self.spoken: dict[int, Callable[[str], None]] = {}  # message id -> speaks its reply as written (voice.py)

    async def answer(self, job: Job) -> str | None:
        """Reply to ``job``'s message; return what SEL said (without the small print above it), or
        None when there was no reply (the failure is logged, and told in the channel when it helps)."""
        message = job.message
        reply = self._reply(_first_sender(message), message.channel.send)
        reply.text = job.prefix
        posted = await self._deliver(job, reply)
        if posted is None:
            return None
        self._measure(message)
        return self._keep(job, posted, reply)

    async def retry(self, sent: SentReply) -> bool:
        """Regenerate ``sent`` from the same context (`/sel retry`): the new text replaces the old in
        the same Discord messages; old ones it no longer needs are deleted. False when it failed
        (logged, and told in the channel as for a reply)."""
        job = sent.job
        reuse = ReusedMessages(sent.messages, _first_sender(job.message), job.message.channel.send)
        reply = self._reply(reuse.first, reuse.more)
        reply.text = job.prefix
        posted = await self._deliver(job, reply, again=True)
        if posted is None:
            return False
        await self._delete(job.message.channel.id, reuse.unused)
        self._keep(job, posted, reply)
        return True

    async def extend(self, sent: SentReply) -> bool:
        """Continue ``sent``, a reply that hit its length limit (`/sel continue`): the model goes on from
        its text, which grows in its last message and continues in new ones past Discord's limit."""
        job = sent.job
        reply = self._reply(job.message.channel.send, job.message.channel.send)
        reply.text = job.prefix + sent.text.rstrip()
        reply.resume(sent.messages, sent.shown)
        posted = await self._deliver(job, reply, prefill=sent.text)
        if posted is None:
            return False
        self._keep(job, posted, reply)
        return True

    def _reply(
        self, send_first: Send[discord.Message], send_more: Send[discord.Message]
    ) -> StreamingReply[discord.Message]:
        interval, stream = self.settings.edit_interval, self.settings.stream
        return StreamingReply(send_first, send_more, interval=interval, stream=stream, refused=(discord.HTTPException,))

    def _keep(self, job: Job, posted: list[discord.Message], reply: StreamingReply[discord.Message]) -> str:
        """Keep the reply for `retry` and `continue`; returns its text without the small print."""
        said = reply.text[len(job.prefix) :]
        hit_length = job.decision.text is None and self.app.brain.hit_length(job.incoming.channel_id)
        self.replies.keep(SentReply(job, posted, reply.shown, said, hit_length))
        return said

    async def _deliver(
        self, job: Job, reply: StreamingReply[discord.Message], *, again: bool = False, prefill: str = ""
    ) -> list[discord.Message] | None:
        """Stream the brain's reply into ``reply``; the messages posted, or None when it failed."""
        message = job.message
        try:
            await self._stream(job, reply, again=again, prefill=prefill)
            posted = await reply.finish()
        except asyncio.CancelledError:  # shutdown: closing the stream stopped the generation
            self.app.metrics.generation_cancelled()
            raise
        except SelError as err:
            # The details (a server's URL, a model's path) are for the owner's log, not the channel.
            log.error("cannot answer in channel %s: %s", message.channel.id, err)
            await _close_cut_reply(reply)
            await self.say(message, SERVER_DOWN if isinstance(err, ServerUnavailableError) else MODEL_TROUBLE)
            return None
        except discord.HTTPException as err:
            # Discord refused the final send or edit (outage, a long 429 storm) after discord.py's own retries.
            log.warning("reply in channel %s failed on Discord's side: %s", message.channel.id, err)
            finished = await _finish_after_pause(reply)
            if finished is None:
                return None
            posted = finished
        except Exception as err:
            log.exception("reply in channel %s failed", message.channel.id)
            await self.say(message, render_error(err))
            return None
        self._record(message, posted, reply.shown)
        return posted

    async def _delete(self, channel_id: int, messages: list[discord.Message]) -> None:
        """Remove a retried reply's messages the new text did not need."""
        for old in messages:
            self.history.remove(channel_id, old.id)
            try:
                await old.delete()
            except discord.HTTPException as err:  # already gone, or no permission: the reply is still whole
                log.info("could not delete message %s of a retried reply: %s", old.id, err)

    async def say(self, message: discord.Message, text: str) -> None:
        """A short answer of SEL's own (a refusal, a problem), as a reply when Discord allows it."""
        try:
            await message.reply(text)
        except discord.HTTPException:
            await message.channel.send(text)

    async def _stream(
        self, job: Job, reply: StreamingReply[discord.Message], *, again: bool = False, prefill: str = ""
    ) -> None:
        history = await self.context(job.message)
        speak = self.spoken.get(job.message.id, _silent)
        async with _typing(job.message.channel):
            if job.decision.text is not None:
                await reply.add(job.decision.text)
                speak(job.decision.text)
                return
            stream = self.app.brain.respond(job.incoming, history, job.decision, again=again, prefill=prefill)
            self.progress.started()
            try:
                async with contextlib.aclosing(stream):  # closing it (shutdown) cancels the generation
                    async for chunk in stream:
                        self.progress.moved()
                        if isinstance(chunk, Thought):  # only there when the owner asked to see reasoning
                            await self._show_reasoning(job.message, chunk)
                        else:
                            await reply.add(chunk)
                            speak(chunk)
            finally:
                self.progress.ended()

    def _measure(self, message: discord.Message) -> None:
        """Reply latency (message sent -> reply complete) and the generation's speed, for the metrics."""
        stats = self.app.last_stats
        latency = time.time() - message.created_at.timestamp()
        self.app.metrics.reply_finished(latency, stats.tokens_per_second if stats is not None else 0.0)

    async def _show_reasoning(self, message: discord.Message, thought: Thought) -> None:
        """The model's reasoning as its own message, collapsed in a spoiler (see reasoning.py)."""
        post = reasoning_post(thought.text)
        file = post.file()
        try:
            if file is None:
                await message.channel.send(post.content)
            else:
                await message.channel.send(post.content, file=file)
        except discord.HTTPException as err:  # e.g. no permission to attach files: the answer still goes out
            log.warning("could not post the reasoning in channel %s: %s", message.channel.id, err)

    async def context(self, message: discord.Message) -> list[Turn]:
        """The turns before ``message``: its reply chain if it is a reply, else the channel's history."""
        channel = message.channel
        reference = message.reference
        me = self.bot.user
        if reference is not None and reference.message_id is not None and me is not None:

            async def fetch(message_id: int) -> Entry:
                return entry_of(await channel.fetch_message(message_id), me, self.app.owner_settings.name)

            chain = await reply_chain(reference.message_id, lambda i: self.history.find(channel.id, i), fetch)
            turns = to_turns(self.history.since_start(channel.id, chain), cut=False)  # a reset holds here too
            if turns:  # a chain of nothing but reasoning posts (no text) falls back to the channel
                return turns
        entries, cut = self.history.before(channel.id, message.id)
        return to_turns(entries, cut=cut)

    def _record(self, message: discord.Message, posted: list[discord.Message], shown: list[str]) -> None:
        """SEL's messages enter the history with their final text, not the first streamed one."""
        for sent, text in zip(posted, shown, strict=True):
            self.history.record(message.channel.id, Entry(sent.id, sent.author.id, "SEL", text, True, message.id))


def _silent(_text: str) -> None:
    """The reply is not spoken (no voice channel linked, or SEL_TTS_DEFAULT is off)."""


async def _close_cut_reply(reply: StreamingReply[discord.Message]) -> None:
    """A reply cut short by a failure keeps what it showed, without the in-progress marker."""
    if not reply.messages:
        return
    try:
        await reply.finish()
    except discord.HTTPException as err:
        log.info("could not finish a cut reply: %s", err)


async def _finish_after_pause(reply: StreamingReply[discord.Message]) -> list[discord.Message] | None:
    """More tries at a reply's final text, with growing pauses to give Discord a moment: the whole
    reply, once, without the in-progress marker. None when Discord still refuses (logged)."""
    for pause in FINISH_RETRY_PAUSES:
        await asyncio.sleep(pause)
        try:
            return await reply.finish()
        except discord.HTTPException as err:
            log.info("Discord refused a reply's final text again: %s", err)
    log.warning("gave up on a reply Discord kept refusing for %.0f s", sum(FINISH_RETRY_PAUSES))
    return None


@contextlib.asynccontextmanager
async def _typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """The typing indicator while SEL writes; Discord refusing it does not stop the answer."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(channel.typing())
        except discord.HTTPException as err:
            log.info("no typing indicator: %s", err)
        yield


def _first_sender(message: discord.Message) -> Callable[[str], Awaitable[discord.Message]]:
    """Posts a reply's first message: as a reply to ``message`` in a server, plainly in a DM."""

    async def send_first(content: str) -> discord.Message:
        if message.guild is None:
            return await message.channel.send(content)
        try:
            return await message.reply(content)
        except discord.HTTPException as err:  # e.g. the message was deleted meanwhile: answer in the channel
            if err.status == 429 or err.status >= 500:
                raise  # Discord is struggling, not the message gone: the reply is tried again later, as a reply
            log.info("could not reply to message %s (%s); posting in the channel instead", message.id, err)
            return await message.channel.send(content)

    return send_first


class ReusedMessages:
    """Senders for a retried reply: each new message edits the next of the old reply's messages,
    and only when they run out (or one was deleted meanwhile) is a new one posted."""

    def __init__(
        self,
        old: list[discord.Message],
        send_first: Callable[[str], Awaitable[discord.Message]],
        send_more: Callable[[str], Awaitable[discord.Message]],
    ) -> None:
        self.unused = list(old)  # what is left over at the end is deleted
        self._send_first = send_first
        self._send_more = send_more

    async def first(self, content: str) -> discord.Message:
        return await self._next(content, self._send_first)

    async def more(self, content: str) -> discord.Message:
        return await self._next(content, self._send_more)

    async def _next(self, content: str, send: Callable[[str], Awaitable[discord.Message]]) -> discord.Message:
        while self.unused:
            old = self.unused.pop(0)
            try:
                return await old.edit(content=content)
            except discord.NotFound:  # deleted meanwhile: the next one, or a new message
                continue
        return await send(content)
