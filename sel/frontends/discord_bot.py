"""The Discord frontend: events in, brain decisions out, replies streamed by editing.

One path for a message: gateway event -> history -> access and staleness checks ->
``brain.decide`` -> silence (``brain.listen``; nothing downloaded) or attachments read and
a reply streamed from ``brain.respond`` into Discord. One generation per channel at a time:
messages that arrive while SEL is answering there are *coalesced* per author — SEL then
answers each waiting person's newest message, with the ones in between in its context, so
a flood never queues up replies and SEL never answers the same thing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from sel.config import Settings
from sel.domain import AttachmentInfo, IncomingMessage
from sel.errors import ConfigError, SelError
from sel.frontends.discord_access import allowed
from sel.frontends.discord_attachments import image_urls, read_attachments
from sel.frontends.discord_checkins import CheckinBook
from sel.frontends.discord_history import ConversationLog, Entry, reply_chain, to_turns
from sel.frontends.discord_stream import StreamingReply
from sel.runtime import Runtime

log = logging.getLogger(__name__)

PRIVILEGED_INTENT_FIX = (
    "Discord refused the Message Content intent; open https://discord.com/developers/applications, "
    "pick your bot, and under Bot > Privileged Gateway Intents turn on 'Message Content Intent'"
)
BAD_TOKEN_FIX = (
    "Discord refused DISCORD_TOKEN (invalid or reset); copy a fresh token from the developer portal "
    "(Bot > Reset Token) into .env"
)
TICK_SECONDS = 60.0
OPT_OUT_WORDS = frozenset({"off", "no", "0", "false"})


def is_data_right(command: str, argument: str) -> bool:
    """Opting out, exporting and forgetting stay open to everyone, whatever the access lists say."""
    if command in ("forget", "export"):
        return True
    return command == "remember" and argument.strip().lower() in OPT_OUT_WORDS


BARE_MENTION = "(mentions SEL without saying anything else)"


def sel_mentions(settings: Settings) -> discord.AllowedMentions:
    """Whom SEL's messages may ping: at most the person a reply answers (SEL_PING_ON_REPLY).

    Never @everyone, @here, roles or users named in the text: a reply is model output, one
    prompt injection away from "@everyone". Set once on the client, so every send and edit
    carries it; no call in SEL passes its own allowed_mentions or mention_author.
    """
    return discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=settings.ping_on_reply)


def ready_line(name: str, servers: int, summary: str) -> str:
    """The one line SEL prints when it is online, e.g. "SEL is ready as Sel#1234 in 3 servers · general: …"."""
    return f"SEL is ready as {name} in {servers} server{'' if servers == 1 else 's'} · {summary}"


@dataclass
class Job:
    message: discord.Message
    incoming: IncomingMessage
    decision: Any
    prefix: str = ""  # e.g. what SEL heard in a voice message, shown above the reply


class Lanes:
    """One running reply per channel; waiting messages are coalesced per author.

    While SEL answers in a channel, each person's newest addressed message waits (their
    earlier ones are taken in without a reply: they are in the context of the newest).
    Different people are answered in the order they wrote. At most ``max_waiting`` people
    wait per channel; past that the longest-waiting message is taken in without a reply, so
    a flood never grows without bound.
    """

    def __init__(
        self,
        run: Callable[[Job], Awaitable[None]],
        superseded: Callable[[Job], Awaitable[None]],
        max_waiting: int = 5,
    ) -> None:
        self._run = run
        self._superseded = superseded
        self.max_waiting = max_waiting
        self.running: dict[int, asyncio.Task[None]] = {}
        self.pending: dict[int, OrderedDict[str, Job]] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()

    def submit(self, channel_id: int, job: Job) -> None:
        if channel_id not in self.running:
            self._start(channel_id, job)
            return
        waiting = self.pending.setdefault(channel_id, OrderedDict())
        older = waiting.get(job.incoming.author_id)
        waiting[job.incoming.author_id] = job  # a person keeps their place in line
        if older is None and len(waiting) > self.max_waiting:
            _, older = waiting.popitem(last=False)
        if older is not None:
            # The loop keeps only weak references to tasks: hold this one until it is done.
            task = asyncio.get_running_loop().create_task(self._superseded(older))
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    def _start(self, channel_id: int, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"sel-reply-{channel_id}")
        self.running[channel_id] = task
        task.add_done_callback(lambda t: self._done(channel_id, t))

    def _done(self, channel_id: int, task: asyncio.Task[None]) -> None:
        self.running.pop(channel_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("reply in channel %s failed", channel_id, exc_info=task.exception())
        waiting = self.pending.get(channel_id)
        if not waiting or task.cancelled():
            self.pending.pop(channel_id, None)
            return
        _, job = waiting.popitem(last=False)
        if not waiting:
            del self.pending[channel_id]
        self._start(channel_id, job)

    async def cancel_all(self) -> None:
        self.pending.clear()
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SelBot(commands.Bot):
    """SEL on Discord. Everything it knows about replying comes from ``runtime.brain``."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        *,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.members = False
        intents.presences = False
        super().__init__(
            command_prefix=settings.prefix,
            intents=intents,
            help_command=None,
            allowed_mentions=sel_mentions(settings),
            **kwargs,
        )
        self.settings = settings
        self.runtime = runtime
        self.brain = runtime.brain
        self.clock = clock
        self.history = ConversationLog(settings.history_limit)
        self.lanes = Lanes(self._answer, self._listen_only)
        self.checkins = CheckinBook(settings)
        self.started_at = clock()
        self.last_tokens_per_second = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._fetched: set[int] = set()
        self._announced = False

    @property
    def owners(self) -> frozenset[int]:
        """The application's owner, or its team's members (filled in at start-up)."""
        return frozenset(self.owner_ids or ()) | ({self.owner_id} if self.owner_id else set())

    async def setup_hook(self) -> None:
        from sel.frontends.discord_commands import SelCommands

        app = await self.application_info()
        if app.team is not None:
            self.owner_ids = {member.id for member in app.team.members}
        else:
            self.owner_id = app.owner.id

        await self.add_cog(SelCommands(self))
        await self.tree.sync()
        self.runtime.start_background()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        await self.lanes.cancel_all()
        voice = self.get_cog("SelCommands")
        if voice is not None:
            await voice.stop_voice()  # type: ignore[attr-defined]
        await super().close()

    async def on_ready(self) -> None:
        """Say "ready" once per process; a reconnect that identifies again fires on_ready again."""
        log.info("connected to Discord as %s (%s guilds)", self.user, len(self.guilds))
        if self._announced:
            return
        self._announced = True
        summary = await asyncio.to_thread(self.runtime.summary)
        line = ready_line(str(self.user), len(self.guilds), summary)
        log.info("%s", line)
        print(line, flush=True)

    # ---- messages ------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None or message.author.id == self.user.id:
            return  # SEL's own messages enter the history when their final text is known
        channel_id = message.channel.id
        await self._ensure_history(message.channel, before=message)
        self.history.record(channel_id, self._entry(message))
        self.checkins.saw_message(channel_id, self.clock(), to_sel=False)
        if message.author.bot or self._stale(message):
            return
        permitted = allowed(self.settings, message, owners=self.owners)
        ctx = await self.get_context(message)
        if ctx.valid and ctx.command is not None:
            # Blocked people can still exercise their data rights (opt out, export, forget).
            argument = message.content.split(maxsplit=1)[1] if " " in message.content.strip() else ""
            if permitted or is_data_right(ctx.command.name, argument):
                await self.invoke(ctx)
            return
        if not permitted:
            return
        job = await self._job_for(message)
        if job is None:
            return
        if job.decision.silent:
            await self.brain.listen(job.incoming, job.decision)
            return
        self.checkins.saw_message(channel_id, self.clock(), to_sel=True)
        self.lanes.submit(channel_id, job)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.history.remove(payload.channel_id, payload.message_id)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Someone edited a message: the conversation SEL reads shows the new text."""
        if self.user is None or payload.message.author.id == self.user.id:
            return  # SEL's own streaming edits: its history holds the final text already
        self.history.update(payload.channel_id, payload.message_id, _clean_text(payload.message, self.user))

    async def on_typing(self, channel: Any, user: Any, when: Any) -> None:
        self.checkins.saw_typing(channel.id, self.clock())

    def _stale(self, message: discord.Message) -> bool:
        return self.clock() - message.created_at.timestamp() > self.settings.drop_old_seconds

    async def _job_for(self, message: discord.Message) -> Job | None:
        """Decide on the message as posted; download and read attachments only if SEL will answer.

        Nothing is downloaded, transcribed or refused for messages SEL stays silent on.
        """
        assert self.user is not None
        text = _clean_text(message, self.user)
        if not text and self.user in message.mentions:
            text = BARE_MENTION  # "@SEL" alone (or with only files) still deserves an answer
        incoming = IncomingMessage(
            author_id=str(message.author.id),
            author_name=message.author.display_name,
            channel_id=str(message.channel.id),
            text=text,
            attachments=tuple(AttachmentInfo(a.filename, a.content_type or "", a.size) for a in message.attachments),
            mentioned=self.user in message.mentions,
            is_dm=message.guild is None,
            reply_to_sel=self._replies_to_sel(message),
            created_at=message.created_at.timestamp(),
        )
        if not text.strip() and not incoming.attachments:
            return None
        decision = self.brain.decide(incoming, now=self.clock())
        if decision.silent or not message.attachments:
            return Job(message, incoming, decision)
        own_text = "" if text == BARE_MENTION else text
        read = await read_attachments(message, own_text, self.settings, self.runtime)
        if read.problem:
            await self._say(message, read.problem)
            return None
        incoming = dataclasses.replace(
            incoming,
            text="\n".join(t for t in (read.heard, own_text, read.files) if t),
            images=await image_urls(message) if self.brain.vision_available else (),
        )
        decision = self.brain.decide(incoming, now=self.clock())  # the files' content can change the route
        prefix = (f"-# heard: “{read.heard}”\n" if read.heard else "") + (f"-# {read.note}\n" if read.note else "")
        return Job(message, incoming, decision, prefix)

    def _replies_to_sel(self, message: discord.Message) -> bool:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        entry = self.history.find(message.channel.id, reference.message_id)
        resolved = reference.resolved
        return bool(entry and entry.from_sel) or (
            isinstance(resolved, discord.Message) and self.user is not None and resolved.author.id == self.user.id
        )

    async def _listen_only(self, job: Job) -> None:
        """A waiting message replaced by a newer one: SEL learns from it but does not answer it."""
        try:
            await self.brain.listen(job.incoming, job.decision)
        except Exception:
            log.exception("could not take in a superseded message")

    async def _answer(self, job: Job) -> None:
        message = job.message
        channel = message.channel
        history = await self._context(message)

        async def send_first(content: str) -> discord.Message:
            if message.guild is None:
                return await channel.send(content)
            try:
                return await message.reply(content)
            except discord.HTTPException as err:  # e.g. the message was deleted meanwhile: answer in the channel
                log.info("could not reply to message %s (%s); posting in the channel instead", message.id, err)
                return await channel.send(content)

        reply = StreamingReply(
            send_first, channel.send, interval=self.settings.edit_interval, stream=self.settings.stream
        )
        if job.prefix:
            reply.text = job.prefix
        try:
            async with channel.typing():
                if job.decision.text is not None:
                    await reply.add(job.decision.text)
                else:
                    stream = self.brain.respond(job.incoming, history, job.decision)
                    async with contextlib.aclosing(stream):
                        async for chunk in stream:
                            await reply.add(chunk)
            posted = await reply.finish()
        except SelError as err:
            log.error("cannot answer in channel %s: %s", channel.id, err)
            await self._say(message, "I can't think right now: my model isn't working. The owner can run `sel doctor`.")
            return
        except discord.HTTPException as err:
            # Discord refused a send or edit (permissions, outage); discord.py already retried what it could.
            log.warning("reply in channel %s failed on Discord's side: %s", channel.id, err)
            return
        except Exception:
            log.exception("reply in channel %s failed", channel.id)
            await self._say(message, "Something went wrong on my side; the owner can find the details in SEL's log.")
            return
        stats = getattr(self.runtime.engine, "last_stats", None)
        if stats is not None:
            self.last_tokens_per_second = stats.tokens_per_second
        for sent, text in zip(posted, reply.shown, strict=True):  # the final text, not the first streamed one
            self.history.record(
                channel.id,
                Entry(sent.id, self.user.id, "SEL", text, True, message.id),  # type: ignore[union-attr]
            )
        self.checkins.sel_spoke(channel.id, self.clock())
        cog = self.get_cog("SelCommands")
        if cog is not None and message.guild is not None:
            spoken = reply.text[len(job.prefix) :]  # what SEL said, not the "heard:" line above it
            await cog.speak_reply(message.guild, channel, spoken)  # type: ignore[attr-defined]

    async def _say(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text)
        except discord.HTTPException:
            await message.channel.send(text)

    # ---- history --------------------------------------------------------------------------

    def _entry(self, message: discord.Message) -> Entry:
        assert self.user is not None
        reference = message.reference.message_id if message.reference is not None else None
        return Entry(
            message.id,
            message.author.id,
            message.author.display_name,
            _clean_text(message, self.user),
            message.author.id == self.user.id,
            reference,
        )

    async def _ensure_history(self, channel: Any, *, before: discord.Message) -> None:
        """On first contact with a channel, read its recent messages (once)."""
        if channel.id in self._fetched or self.history.knows(channel.id):
            self._fetched.add(channel.id)
            return
        self._fetched.add(channel.id)
        limit = self.settings.history_limit
        try:
            fetched = [m async for m in channel.history(limit=limit, before=before)]
        except discord.HTTPException as err:
            log.info("could not read the history of channel %s: %s", channel.id, err)
            return
        for m in reversed(fetched):
            self.history.record(channel.id, self._entry(m))
        if len(fetched) >= limit:
            self.history.mark_cut(channel.id)

    async def _context(self, message: discord.Message) -> list[Any]:
        """The turns before ``message``: its reply chain if it is a reply, else the channel's history."""
        channel = message.channel
        reference = message.reference
        if reference is not None and reference.message_id is not None:

            async def fetch(message_id: int) -> Entry:
                return self._entry(await channel.fetch_message(message_id))

            chain = await reply_chain(reference.message_id, lambda i: self.history.find(channel.id, i), fetch)
            if chain:
                return to_turns(chain, cut=False)
        entries, cut = self.history.before(channel.id, message.id)
        return to_turns(entries, cut=cut)

    # ---- time ---------------------------------------------------------------------------

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
        self.brain.tick(now)
        if not self.settings.checkins:
            return
        levels = self.brain.hormones.levels
        for channel_id in self.checkins.due(now, levels):
            channel = self.get_channel(channel_id)
            if channel is None or channel_id in self.lanes.running:
                continue
            text = self.checkins.line(now, levels)
            try:
                sent = await channel.send(text)  # type: ignore[union-attr]
            except discord.HTTPException as err:
                log.info("check-in in %s failed: %s", channel_id, err)
                continue
            self.checkins.checked_in(channel_id, now)
            self.history.record(channel_id, Entry(sent.id, self.user.id, "SEL", text, True))  # type: ignore[union-attr]


def _clean_text(message: discord.Message, me: discord.ClientUser) -> str:
    """Message text with SEL's mention turned into its name and other user mentions readable."""
    # "@SEL my turtle is called Shelly": the leading mention only addresses SEL
    text = re.sub(rf"^\s*<@!?{me.id}>[\s,:]*", "", message.content)
    text = re.sub(rf"<@!?{me.id}>", "SEL", text)
    for user in message.mentions:
        if user.id != me.id:
            text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
    return text.strip()


def run_discord(settings: Settings) -> int:
    """Run the bot until Ctrl-C; returns the exit code."""
    if not settings.discord_token:
        raise ConfigError("DISCORD_TOKEN is not set; put your bot token in .env (see .env.example)")
    return asyncio.run(serve(settings))


async def serve(settings: Settings, *, runtime: Runtime | None = None, **bot_kwargs: Any) -> int:
    """Open (or take) the runtime, warm the general model, then run the bot until it closes.

    The runtime is closed on the way out, whatever happened.
    """
    from sel.runtime import open_runtime

    if runtime is None:
        runtime = await asyncio.to_thread(open_runtime, settings)
    try:
        # Before connecting: a model that cannot load is a one-line error while SEL is still
        # offline, and the first reply does not pay for loading it.
        await asyncio.to_thread(runtime.warm_up)
        await _connect(SelBot(settings, runtime, **bot_kwargs), settings)
    finally:
        await runtime.aclose()
    return 0


async def _connect(bot: SelBot, settings: Settings) -> None:
    """Run ``bot`` until it closes, turning Discord's start-up refusals into one-line errors."""
    try:
        await bot.start(settings.discord_token or "")
    except discord.LoginFailure:
        raise ConfigError(BAD_TOKEN_FIX) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(PRIVILEGED_INTENT_FIX) from None
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as err:
        raise SelError(f"could not reach Discord ({err}); check this machine's internet connection") from None
    finally:
        if not bot.is_closed():
            await bot.close()
