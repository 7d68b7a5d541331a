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
from sel.domain import Turn
from sel.errors import SelError, render_error
from sel.frontends.discord.history import ConversationLog, Entry, reply_chain, to_turns
from sel.frontends.discord.incoming import entry_of
from sel.frontends.discord.lanes import Job
from sel.frontends.discord.stream import StreamingReply

log = logging.getLogger(__name__)

MODEL_TROUBLE = "I can't think right now: my model isn't working. The owner can run `sel doctor`."


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
            log.error("cannot answer in channel %s: %s", message.channel.id, err)
            await self.say(message, MODEL_TROUBLE)  # the details (model paths) are for the owner's log
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
                    await reply.add(chunk)

    async def context(self, message: discord.Message) -> list[Turn]:
        """The turns before ``message``: its reply chain if it is a reply, else the channel's history."""
        channel = message.channel
        reference = message.reference
        me = self.bot.user
        if reference is not None and reference.message_id is not None and me is not None:

            async def fetch(message_id: int) -> Entry:
                return entry_of(await channel.fetch_message(message_id), me)

            chain = await reply_chain(reference.message_id, lambda i: self.history.find(channel.id, i), fetch)
            if chain:
                return to_turns(chain, cut=False)
        entries, cut = self.history.before(channel.id, message.id)
        return to_turns(entries, cut=cut)

    def _record(self, message: discord.Message, posted: list[discord.Message], shown: list[str]) -> None:
        """SEL's messages enter the history with their final text, not the first streamed one."""
        for sent, text in zip(posted, shown, strict=True):
            self.history.record(message.channel.id, Entry(sent.id, sent.author.id, "SEL", text, True, message.id))


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
