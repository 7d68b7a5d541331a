"""SEL's Discord bot: its lifecycle. It receives the App, loads its Cogs, connects, says "ready" once
and closes; what happens to messages and commands lives in the Cogs."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from sel.app import App, open_app
from sel.config import DiscordSettings, Settings
from sel.errors import ConfigError, SelError
from sel.frontends.discord.access import owners_of
from sel.frontends.discord.commands import SelCommands
from sel.frontends.discord.conversation import Conversation
from sel.frontends.discord.voice import Voice
from sel.frontends.discord.voice_support import voice_state, voice_support
from sel.frontends.discord.watch import Watch

log = logging.getLogger(__name__)

PRIVILEGED_INTENT_FIX = (
    "Discord refused the Message Content intent; open https://discord.com/developers/applications, "
    "pick your bot, and under Bot > Privileged Gateway Intents turn on 'Message Content Intent'"
)
# SEL reads nothing from discord.py's message cache (edits and deletions come as raw events, reply
# chains from its own history or a fetch), yet discord.py keeps 1000 messages by default: memory that
# filled for a quarter of an hour of the soak and counted as growth (README, "Where the RSS goes"). A
# few are kept for discord.py's own look-ups (a reply's message when Discord leaves it out).
MESSAGE_CACHE = 100

BAD_TOKEN_FIX = (
    "Discord refused DISCORD_TOKEN (invalid or reset); copy a fresh token from the developer portal "
    "(Bot > Reset Token) into .env"
)


def sel_mentions(settings: DiscordSettings) -> discord.AllowedMentions:
    """Whom SEL's messages may ping: at most the person a reply answers (SEL_PING_ON_REPLY).

    Never @everyone, @here, roles or users named in the text: a reply is model output, one
    prompt injection away from "@everyone". Set once on the client, so every send and edit
    carries it; no call in SEL passes its own allowed_mentions or mention_author.
    """
    return discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=settings.ping_on_reply)


def ready_line(name: str, servers: int, summary: str, shards: int | None = None) -> str:
    """The one line SEL prints when it is online, e.g. "SEL is ready as Sel#1234 in 3 servers · general: …"."""
    sharded = f" over {shards} shards" if shards else ""
    return f"SEL is ready as {name} in {servers} server{'' if servers == 1 else 's'}{sharded} · {summary}"


class SelBot(commands.Bot):
    """SEL on Discord: the App's conversation, commands and voice, as three Cogs."""

    def __init__(
        self, app: App, settings: DiscordSettings, *, clock: Callable[[], float] = time.time, **kwargs: Any
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
            **{"max_messages": MESSAGE_CACHE, **kwargs},
        )
        self.app = app
        self.settings = settings
        self.voice = Voice(self, app, settings)
        self.conversation = Conversation(self, app, settings, self.voice, clock=clock)
        self.controls = SelCommands(app, settings, self.conversation.history, self.voice)
        self.watch = Watch(self, app, self.conversation.lanes, self.conversation.responder.progress)
        self._announced = False

    @property
    def owners(self) -> frozenset[int]:
        """The application's owner, or its team's members (filled in at start-up)."""
        return owners_of(self)

    async def setup_hook(self) -> None:
        info = await self.application_info()
        if info.team is not None:
            self.owner_ids = {member.id for member in info.team.members}
        else:
            self.owner_id = info.owner.id
        # Closing removes the Cogs in this order: replies stop before SEL leaves the voice channels.
        for cog in (self.conversation, self.voice, self.controls):
            await self.add_cog(cog)
        await self.tree.sync()
        self.app.start_background()
        self.watch.start()

    async def close(self) -> None:
        await self.watch.stop()  # first: `sel health` must not report a closing bot as healthy
        await super().close()

    async def on_message(self, message: discord.Message, /) -> None:
        """Nothing here: the Conversation Cog reads every message first and runs the commands itself."""

    async def on_ready(self) -> None:
        """Say "ready" once per process; a reconnect that identifies again fires on_ready again."""
        log.info("connected to Discord as %s (%s guilds)", self.user, len(self.guilds))
        if self._announced:
            return
        self._announced = True
        voice = await asyncio.to_thread(voice_support)  # looks for libopus on disk
        summary = f"{self.app.describe()} · voice: {voice_state(voice)}"
        line = ready_line(str(self.user), len(self.guilds), summary, self.shard_count if self.settings.shards else None)
        log.info("%s", line)
        print(line, flush=True)


class ShardedSelBot(SelBot, commands.AutoShardedBot):
    """SEL over several gateway connections (SEL_SHARDS): each shard carries the events of its share of
    the servers, and discord.py runs them all in this one process. Everything else is SelBot's."""


def make_bot(app: App, settings: DiscordSettings, *, clock: Callable[[], float] = time.time, **kwargs: Any) -> SelBot:
    """SEL's bot: one gateway connection, or shards when SEL_SHARDS is set ("auto": as many as Discord advises)."""
    if settings.shards == 0:
        return SelBot(app, settings, clock=clock, **kwargs)
    return ShardedSelBot(app, settings, clock=clock, shard_count=settings.shards, **kwargs)


def run_discord(settings: Settings) -> int:
    """Run the bot until Ctrl-C or SIGTERM; returns the exit code."""
    if not settings.discord_token:
        raise ConfigError("DISCORD_TOKEN is not set; put your bot token in .env (see .env.example)")
    return asyncio.run(serve_until_stopped(settings))


async def serve_until_stopped(settings: Settings, **bot_kwargs: Any) -> int:
    """:func:`serve`, stopped by SIGTERM as cleanly as by Ctrl-C: replies closed, state saved, exit 0.

    `docker stop` and systemd send SIGTERM. Python's default for it ends the process on the spot,
    and as a container's PID 1 SEL would not even get that: Docker would kill it 10 s later.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        if not terminated and main is not None:
            terminated = True
            log.info("SIGTERM: stopping")
            main.cancel()

    # asyncio takes signal handlers only on Unix and in the main thread (tests may serve from another).
    handles_signals = sys.platform != "win32" and threading.current_thread() is threading.main_thread()
    if handles_signals:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await serve(settings, **bot_kwargs)
    except asyncio.CancelledError:
        if terminated:
            return 0
        raise
    finally:
        if handles_signals:
            loop.remove_signal_handler(signal.SIGTERM)


async def serve(settings: Settings, *, app: App | None = None, **bot_kwargs: Any) -> int:
    """Open (or take) the App, warm the general model, then run the bot until it closes.

    The App is closed on the way out, whatever happened.
    """
    if app is None:
        app = await asyncio.to_thread(open_app, settings)
    try:
        if settings.metrics_port is not None:
            app.metrics.serve(settings.metrics_host, settings.metrics_port)
        # Before connecting: a model that cannot load is a one-line error while SEL is still
        # offline, and the first reply does not pay for loading it.
        await app.warm_up()
        await _connect(make_bot(app, settings.discord, **bot_kwargs), settings.discord_token or "")
    finally:
        await app.aclose()
    return 0


async def _connect(bot: SelBot, token: str) -> None:
    """Run ``bot`` until it closes, turning Discord's start-up refusals into one-line errors."""
    try:
        await bot.start(token)
    except discord.LoginFailure:
        raise ConfigError(BAD_TOKEN_FIX) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(PRIVILEGED_INTENT_FIX) from None
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as err:
        raise SelError(f"could not reach Discord ({err}); check this machine's internet connection") from None
    finally:
        if not bot.is_closed():
            await bot.close()
