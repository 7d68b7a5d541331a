"""`DiscordStandin`: one loopback TLS server that the real, unmodified discord.py talks to.

It serves REST (discord.com/api/v10), the gateway and voice websockets (routed by Host) and the
CDN, holds the world the bot sees, and gives tests builders, actors, queries, knobs and waits.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from aiohttp import web

from tests.standin import payloads
from tests.standin.gateway import PRIVILEGED_INTENTS, Gateway, GatewayFrame
from tests.standin.ratelimit import RateLimiter, RateLimitPolicy
from tests.standin.rest import RecordedRequest
from tests.standin.routing import API_PREFIX, InjectedError, Router
from tests.standin.state import (
    MESSAGE_FLAG_LOADING,
    MESSAGE_FLAG_VOICE,
    Channel,
    ChannelType,
    Guild,
    Interaction,
    Message,
    User,
    World,
)
from tests.standin.tls import StaticResolver, client_ssl_context, server_ssl_context
from tests.standin.voice import VoiceServer

if TYPE_CHECKING:
    import discord

T = TypeVar("T")
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES since 2025-01
MENTION = re.compile(r"<@!?(\d+)>")
OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}
RECHECK_INTERVAL = 0.05


@dataclass(frozen=True)
class FileSpec:
    """A file a test user attaches to a message; served from the CDN at the attachment's URL."""

    filename: str
    data: bytes
    content_type: str | None = None
    duration_secs: float | None = None
    waveform: str | None = None


class DiscordStandin:
    """A fake Discord on 127.0.0.1 with a default world: guild "SEL Lab" owned by alice, with bob,
    #general, #random, a thread in #general and the "Lounge" voice channel."""

    def __init__(self, *, token: str = "standin-bot-token", clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.clock = clock
        self.world = World()
        self.gateway = Gateway(self)
        self.voice = VoiceServer(self)
        self.limiter = RateLimiter()
        self.upload_limit = DEFAULT_UPLOAD_LIMIT
        self.interaction_ack_timeout = 3.0
        self.approved_intents = PRIVILEGED_INTENTS
        self.recommended_shards = 1  # GET /gateway/bot's advice
        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.ratelimited: list[RecordedRequest] = []
        self.unsupported: list[str] = []
        self.port = 0
        self.stalled_until = 0.0  # loop time until which the stand-in answers nothing (see stall())
        self._waiters: list[asyncio.Future[None]] = []
        self.router = Router(self)
        self._runner: web.AppRunner | None = None
        self._build_default_world()

    def _build_default_world(self) -> None:
        now = self.clock()
        bot = self.world.add_user("SEL", bot=True, now=now)
        self.world.bot = bot
        self.world.application_id = bot.id  # true of every modern Discord application
        self.alice = self.add_user("alice")
        self.bob = self.add_user("bob")
        self.world.owner_id = self.alice.id
        self.guild = self.add_guild("SEL Lab", owner=self.alice)
        self.add_member(self.guild, self.bob)
        self.general = self.add_text_channel(self.guild, "general")
        self.random = self.add_text_channel(self.guild, "random")
        self.lounge = self.add_voice_channel(self.guild, "Lounge")
        self.thread = self.add_thread(self.general, "sel-thread")

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> DiscordStandin:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self.router.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_ssl_context())
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.router.last_request = asyncio.get_running_loop().time()
        await self.voice.start()
        return self

    async def stop(self) -> None:
        await self.voice.close()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordStandin:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- the bot's side -------------------------------------------------------------------------

    def connector(self) -> aiohttp.TCPConnector:
        """A connector that resolves Discord's hosts to this server and trusts its test CA (one per client)."""
        return aiohttp.TCPConnector(resolver=StaticResolver(self.port), ssl=client_ssl_context())

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for `commands.Bot(...)`/`discord.Client(...)` to connect here quickly."""
        return {"connector": self.connector(), "guild_ready_timeout": 0.05}

    @asynccontextmanager
    async def running(self, client: discord.Client, *, timeout: float = 5.0) -> AsyncIterator[discord.Client]:
        """Log `client` in, connect it, wait for on_ready; close it on exit."""
        try:
            await client.login(self.token)
        except BaseException:
            await client.close()
            raise
        task = asyncio.create_task(client.connect(), name="standin-bot")
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()  # re-raise why the bot stopped (bad intents, bad token...)
                raise AssertionError("the bot stopped before it became ready\n" + self.transcript())
            if ready not in done:
                raise AssertionError(f"the bot was not ready after {timeout}s\n" + self.transcript())
            yield client
        finally:
            ready.cancel()
            await client.close()
            try:
                await asyncio.wait_for(task, timeout=5.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()

    # --- builders -------------------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False) -> User:
        return self.world.add_user(name, bot=bot, now=self.clock())

    def add_guild(self, name: str, *, owner: User) -> Guild:
        return self.world.add_guild(name, owner, now=self.clock())

    def add_member(self, guild: Guild, user: User) -> None:
        self.world.add_member(guild, user)

    def add_text_channel(self, guild: Guild, name: str) -> Channel:
        return self.world.add_channel(guild, name, ChannelType.TEXT, now=self.clock())

    def add_voice_channel(self, guild: Guild, name: str) -> Channel:
        return self.world.add_channel(guild, name, ChannelType.VOICE, now=self.clock())

    def add_thread(self, parent: Channel, name: str) -> Channel:
        guild = self.world.guilds[parent.guild_id or 0]
        return self.world.add_channel(guild, name, ChannelType.PUBLIC_THREAD, now=self.clock(), parent=parent)

    def dm_channel(self, user: User) -> Channel:
        return self.world.dm_channel(user, now=self.clock())

    def add_earlier_message(self, channel_id: int, author: User, content: str) -> Message:
        """A message posted before the bot connected: in the channel's history, never dispatched."""
        return self.world.create_message(self._known_channel(channel_id).id, author.id, content, now=self.clock())

    # --- actors ---------------------------------------------------------------------------------

    async def send_message(
        self,
        channel_id: int,
        author: User,
        content: str,
        *,
        reply_to: int | None = None,
        attachments: Sequence[FileSpec] = (),
        mentions: Iterable[User] = (),
        flags: int = 0,
        embeds: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """`author` posts in a channel; the bot gets MESSAGE_CREATE. Returns the (uncensored) payload.
        ``embeds`` are sent as given (Discord's embed objects), so a test can send hostile ones."""
        self._require_bot()
        channel = self._known_channel(channel_id)
        now = self.clock()
        stored = [
            self.world.store_attachment(
                channel.id,
                spec.filename,
                spec.data,
                now=now,
                content_type=spec.content_type,
                duration_secs=spec.duration_secs,
                waveform=spec.waveform,
            )
            for spec in attachments
        ]
        mention_ids = [user.id for user in mentions] + [int(uid) for uid in MENTION.findall(content)]
        message = self.world.create_message(
            channel.id,
            author.id,
            content,
            now=now,
            attachments=stored,
            flags=flags,
            reply_to=reply_to,
            mention_ids=tuple(dict.fromkeys(uid for uid in mention_ids if uid in self.world.users)),
            embeds=list(embeds),
        )
        data = payloads.message_payload(self.world, message)
        await self.gateway.dispatch("MESSAGE_CREATE", data)
        return data

    async def edit_user_message(self, channel_id: int, message_id: int, content: str) -> None:
        """A user edits their own message; the bot gets MESSAGE_UPDATE."""
        message = self.world.messages[message_id]
        assert message.channel_id == channel_id and message.author_id != self.world.bot.id, "not a user's message"
        self.world.edit_message(message, now=self.clock(), content=content)
        await self.gateway.dispatch("MESSAGE_UPDATE", payloads.message_payload(self.world, message))

    async def delete_user_message(self, channel_id: int, message_id: int) -> None:
        """A user deletes their message; the bot gets MESSAGE_DELETE."""
        message = self.world.messages[message_id]
        message.deleted = True
        data = {"id": str(message.id), "channel_id": str(channel_id)}
        guild = self.world.guild_of(channel_id)
        if guild is not None:
            data["guild_id"] = str(guild.id)
        await self.gateway.dispatch("MESSAGE_DELETE", data)

    async def send_voice_message(
        self, channel_id: int, author: User, ogg_opus: bytes, *, duration_secs: float
    ) -> dict[str, Any]:
        """A Discord voice message: one Ogg/Opus attachment, flags 8192, duration and waveform."""
        waveform = base64.b64encode(bytes(range(0, 256, 4))).decode()
        spec = FileSpec("voice-message.ogg", ogg_opus, "audio/ogg", duration_secs=duration_secs, waveform=waveform)
        return await self.send_message(channel_id, author, "", attachments=[spec], flags=MESSAGE_FLAG_VOICE)

    async def slash(
        self,
        author: User,
        channel_id: int,
        command: str,
        *,
        subcommand: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Interaction:
        """`author` runs `/command [subcommand] options...`; the bot gets INTERACTION_CREATE.

        The command must have been synced by the bot (as on real Discord). Option types come
        from the synced definition, else from the Python value (str, int, bool, float, User, Channel).
        """
        self._require_bot()
        channel = self._known_channel(channel_id)
        guild = self.world.guild_of(channel.id)
        synced = self.world.command_named(command, guild.id if guild else None)
        if synced is None:
            names = sorted({c.payload["name"] for c in self.world.commands.values()})
            raise AssertionError(f"the bot has not synced a /{command} command (synced: {names})")
        definitions = synced.payload.get("options") or []
        if subcommand is not None:
            group = next((o for o in definitions if o.get("name") == subcommand and o.get("type") == 1), None)
            if group is None:
                raise AssertionError(f"/{command} has no subcommand {subcommand!r}")
            values = _command_options(group.get("options") or [], options or {})
            built = [{"type": 1, "name": subcommand, "options": values}]
        else:
            built = _command_options(definitions, options or {})
        interaction = self.world.create_interaction(channel.id, author.id, command, built, now=self.clock())
        data = payloads.interaction_payload(self.world, interaction, upload_limit=self.upload_limit)
        resolved = self._resolved(options or {}, guild)
        if resolved:
            data["data"]["resolved"] = resolved
        await self.gateway.dispatch("INTERACTION_CREATE", data)
        return interaction

    async def typing_start(self, channel_id: int, author: User) -> None:
        self._require_bot()
        channel = self._known_channel(channel_id)
        data: dict[str, Any] = {
            "channel_id": str(channel.id),
            "user_id": str(author.id),
            "timestamp": int(self.clock()),
        }
        guild = self.world.guild_of(channel.id)
        if guild is not None:
            data["guild_id"] = str(guild.id)
            data["member"] = payloads.member_payload(guild, author)
        await self.gateway.dispatch("TYPING_START", data)

    async def react(self, channel_id: int, message_id: int, author: User, emoji: str) -> None:
        self._require_bot()
        message = self.world.messages[message_id]
        message.reactions.setdefault(emoji, set()).add(author.id)
        data: dict[str, Any] = {
            "user_id": str(author.id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
            "message_author_id": str(message.author_id),
        }
        guild = self.world.guild_of(channel_id)
        if guild is not None:
            data["guild_id"] = str(guild.id)
            data["member"] = payloads.member_payload(guild, author)
        await self.gateway.dispatch("MESSAGE_REACTION_ADD", data)

    async def join_voice(self, user: User, channel: Channel) -> None:
        """`user` joins (or moves to) a voice channel; the bot gets VOICE_STATE_UPDATE."""
        self._require_bot()
        guild = self.world.guilds[channel.guild_id or 0]
        await self.voice.set_voice_state(guild, user, channel.id)

    async def leave_voice(self, user: User, guild: Guild) -> None:
        self._require_bot()
        await self.voice.set_voice_state(guild, user, None)

    def _require_bot(self) -> None:
        if self.gateway.current is None:
            raise AssertionError("no bot has identified with the stand-in gateway yet; start it with standin.running()")

    def _known_channel(self, channel_id: int) -> Channel:
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise AssertionError(f"channel {channel_id} does not exist in the stand-in; build it first")
        return channel

    def _resolved(self, options: dict[str, Any], guild: Guild | None) -> dict[str, Any]:
        resolved: dict[str, dict[str, Any]] = {}
        for value in options.values():
            if isinstance(value, User):
                resolved.setdefault("users", {})[str(value.id)] = payloads.user_payload(value)
                if guild is not None and value.id in guild.member_roles:
                    member = payloads.member_payload(guild, value, with_user=False)
                    resolved.setdefault("members", {})[str(value.id)] = member
            elif isinstance(value, Channel):
                channel = payloads.channel_payload(self.world, value)
                resolved.setdefault("channels", {})[str(value.id)] = {**channel, "permissions": "0"}
        return resolved

    # --- queries --------------------------------------------------------------------------------

    def messages(self, channel_id: int) -> list[Message]:
        """Live messages in a channel, oldest first, each with content, attachments (bytes) and history."""
        return self.world.channel_messages(channel_id)

    def bot_messages(self, channel_id: int) -> list[Message]:
        return [m for m in self.messages(channel_id) if m.author_id == self.world.bot.id]

    def interaction_response(self, interaction: Interaction) -> Message | None:
        """The message the bot answered a slash command with: None until it has responded, and
        None while a deferred response is still the "is thinking..." placeholder."""
        if interaction.original_message_id is None:
            return None
        message = self.world.messages[interaction.original_message_id]
        return None if message.flags & MESSAGE_FLAG_LOADING else message

    def requests_to(self, method: str, path_glob: str) -> list[RecordedRequest]:
        """Recorded requests by method and path glob. REST paths are recorded without the
        "/api/v10" prefix ("/channels/1/typing"); a glob that starts with it matches too."""
        glob = path_glob.removeprefix(API_PREFIX)
        return [r for r in self.requests if r.method == method and fnmatch.fnmatchcase(r.path, glob)]

    @property
    def gateway_log(self) -> list[GatewayFrame]:
        return self.gateway.log

    # --- knobs ----------------------------------------------------------------------------------

    def set_rate_limits(self, policy: RateLimitPolicy) -> None:
        self.limiter.set_policy(policy)

    def inject_error(
        self,
        method: str,
        path_glob: str,
        status: int,
        code: int = 0,
        *,
        message: str = "Injected by the test",
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> None:
        """The next `times` requests matching `method` and `path_glob` (e.g. "/channels/*/messages") fail.

        A 429 is shaped like Discord's (Via header, JSON retry_after/global), so discord.py retries it.
        """
        injected = InjectedError(method, path_glob, status, code, message, times, retry_after, is_global)
        self.router.injected.append(injected)

    async def drop_gateway(self, *, resumable: bool = True, code: int = 4000) -> None:
        """Close the bot's gateway socket with ``code``; it reconnects and RESUMEs (or re-IDENTIFYs if
        not resumable: the session is forgotten, as after Discord's 4009 "session timed out")."""
        await self.gateway.drop(resumable=resumable, code=code)

    def stall(self, seconds: float) -> None:
        """Answer nothing for ``seconds``, as in a Discord outage: REST requests and new sockets wait,
        and the gateway sends nothing (no heartbeat ACKs; dispatches are kept and sent afterwards)."""
        loop = asyncio.get_running_loop()
        self.stalled_until = max(self.stalled_until, loop.time() + seconds)

    async def while_stalled(self) -> None:
        """Return once a stall (if any) is over."""
        loop = asyncio.get_running_loop()
        while (left := self.stalled_until - loop.time()) > 0:
            await asyncio.sleep(left)

    async def send_reconnect(self) -> None:
        await self.gateway.send_op(7)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        await self.gateway.send_op(9, resumable)

    def note_unsupported(self, what: str) -> None:
        """Something the bot did that the stand-in does not model: a test can assert this stays empty."""
        self.unsupported.append(what)

    # --- waiting --------------------------------------------------------------------------------

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _changed(self, timeout: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await asyncio.wait([waiter], timeout=max(timeout, 0))

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *, what: str = "") -> T:
        """Return the first truthy value of `predicate`, re-checked whenever a request or gateway frame
        passes (and at least every 50 ms, for state the stand-in cannot see, such as the bot's caches)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                label = what or getattr(predicate, "__name__", "a condition")
                raise AssertionError(f"timed out after {timeout}s waiting for {label}\n" + self.transcript())
            await self._changed(min(remaining, RECHECK_INTERVAL))
        return result

    async def idle(self, ms: float = 150, *, timeout: float = 10.0) -> None:
        """Wait until no REST request is in flight and none has arrived for `ms` milliseconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = ms / 1000
        while True:
            now = loop.time()
            since = now - self.router.last_request
            if self.router.inflight == 0 and since >= quiet:
                return
            if now >= deadline:
                raise AssertionError(f"the bot was still busy after {timeout}s\n" + self.transcript())
            await self._changed(min(quiet - since if not self.router.inflight else RECHECK_INTERVAL, deadline - now))

    def transcript(self, last: int = 25) -> str:
        """A readable tail of what happened, for failure messages."""
        lines = ["requests (latest last):"]
        lines += [f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-last:]]
        lines.append("gateway (latest last):")
        for frame in self.gateway.log[-last:]:
            lines.append(f"  {frame.direction} op={frame.op} t={frame.t} s={frame.s}")
        if self.unknown_requests:
            lines.append("UNKNOWN ROUTES: " + ", ".join(f"{r.method} {r.path}" for r in self.unknown_requests))
        if self.unsupported:
            lines.append("UNSUPPORTED: " + ", ".join(self.unsupported))
        return "\n".join(lines)


def _command_options(definitions: list[dict[str, Any]], values: dict[str, Any]) -> list[dict[str, Any]]:
    types = {d.get("name"): d.get("type") for d in definitions}
    built = []
    for name, value in values.items():
        if isinstance(value, User):
            built.append({"name": name, "type": types.get(name) or 6, "value": str(value.id)})
        elif isinstance(value, Channel):
            built.append({"name": name, "type": types.get(name) or 7, "value": str(value.id)})
        else:
            built.append({"name": name, "type": types.get(name) or OPTION_TYPES[type(value)], "value": value})
    return built
