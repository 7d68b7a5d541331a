"""Answering one message: its context, the brain's reply streamed into Discord by editing, the final
text recorded in the conversation history."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord
from discord.ext import commands

from sel.app import App
from sel.config import DiscordSettings
from sel.domain import Thought, Turn
from sel.errors import SelError, ServerUnavailableError, render_error
from sel.frontends.discord.history import ConversationLog, Entry, reply_chain, to_turns
from sel.frontends.discord.incoming import entry_of
from sel.frontends.discord.lanes import Job
from sel.frontends.discord.reasoning import reasoning_post
from sel.frontends.discord.stream import StreamingReply

log = logging.getLogger(__name__)

MODEL_TROUBLE = "I can't think right now: my model isn't working. The owner can run `sel doctor`."
SERVER_DOWN = "I can't reach my language model right now — I'll be back as soon as it is."


class Responder:
    """Streams SEL's replies into Discord and keeps their final text in the conversation history."""

    def __init__(self, bot: commands.Bot, app: App, settings: DiscordSettings, history: ConversationLog) -> None:
        self.bot = bot
        self.app = app
        self.settings = settings
        self.history = history

    async def answer(self, job: Job) -> str | None:
        """Reply to ``job``'s message; return what SEL said (without the small print above it), or
        None when there was no reply (the failure is logged, and told in the channel when it helps)."""
        message = job.message
        interval, stream = self.settings.edit_interval, self.settings.stream
        reply = StreamingReply(_first_sender(message), message.channel.send, interval=interval, stream=stream)
        reply.text = job.prefix
        try:
            await self._stream(job, reply)
            posted = await reply.finish()
        except SelError as err:
            # The details (a server's URL, a model's path) are for the owner's log, not the channel.
            log.error("cannot answer in channel %s: %s", message.channel.id, err)
            await _close_cut_reply(reply)
            await self.say(message, SERVER_DOWN if isinstance(err, ServerUnavailableError) else MODEL_TROUBLE)
            return None
        except discord.HTTPException as err:
            # Discord refused a send or edit (permissions, outage); discord.py already retried what it could.
            log.warning("reply in channel %s failed on Discord's side: %s", message.channel.id, err)
            return None
        except Exception as err:
            log.exception("reply in channel %s failed", message.channel.id)
            await self.say(message, render_error(err))
            return None
        self._record(message, posted, reply.shown)
        return reply.text[len(job.prefix) :]

    async def say(self, message: discord.Message, text: str) -> None:
        """A short answer of SEL's own (a refusal, a problem), as a reply when Discord allows it."""
        try:
            await message.reply(text)
        except discord.HTTPException:
            await message.channel.send(text)

    async def _stream(self, job: Job, reply: StreamingReply[discord.Message]) -> None:
        history = await self.context(job.message)
        async with job.message.channel.typing():
            if job.decision.text is not None:
                await reply.add(job.decision.text)
                return
            stream = self.app.brain.respond(job.incoming, history, job.decision)
            async with contextlib.aclosing(stream):  # closing it (shutdown) cancels the generation
                async for chunk in stream:
                    if isinstance(chunk, Thought):  # only there when the owner asked to see reasoning
                        await self._show_reasoning(job.message, chunk)
                    else:
                        await reply.add(chunk)

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
                return entry_of(await channel.fetch_message(message_id), me)

            chain = await reply_chain(reference.message_id, lambda i: self.history.find(channel.id, i), fetch)
            turns = to_turns(chain, cut=False)
            if turns:  # a chain of nothing but reasoning posts (no text) falls back to the channel
                return turns
        entries, cut = self.history.before(channel.id, message.id)
        return to_turns(entries, cut=cut)

    def _record(self, message: discord.Message, posted: list[discord.Message], shown: list[str]) -> None:
        """SEL's messages enter the history with their final text, not the first streamed one."""
        for sent, text in zip(posted, shown, strict=True):
            self.history.record(message.channel.id, Entry(sent.id, sent.author.id, "SEL", text, True, message.id))


async def _close_cut_reply(reply: StreamingReply[discord.Message]) -> None:
    """A reply cut short by a failure keeps what it showed, without the in-progress marker."""
    if not reply.messages:
        return
    try:
        await reply.finish()
    except discord.HTTPException as err:
        log.info("could not finish a cut reply: %s", err)


def _first_sender(message: discord.Message) -> Callable[[str], Awaitable[discord.Message]]:
    """Posts a reply's first message: as a reply to ``message`` in a server, plainly in a DM."""

    async def send_first(content: str) -> discord.Message:
        if message.guild is None:
            return await message.channel.send(content)
        try:
            return await message.reply(content)
        except discord.HTTPException as err:  # e.g. the message was deleted meanwhile: answer in the channel
            log.info("could not reply to message %s (%s); posting in the channel instead", message.id, err)
            return await message.channel.send(content)

    return send_first
