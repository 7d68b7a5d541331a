"""The main gateway at wss://gateway.discord.gg: HELLO, IDENTIFY/RESUME, heartbeats, dispatches.

A `GatewaySession` outlives its websocket, as Discord's do: dispatches sent while the bot is
disconnected are kept and replayed when it RESUMEs. Transport compression follows the
`compress` query parameter (zlib-stream), so discord.py's real decompression path runs.

Sharding works as Discord's: an IDENTIFY may carry ``shard: [id, count]``; that session is then
told about, and receives the events of, the guilds with ``(guild_id >> 22) % count == id``, and
shard 0 also gets the DMs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.standin import payloads

if TYPE_CHECKING:
    from tests.standin.server import DiscordStandin

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41_250

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_VOICE_STATES = 1 << 7
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# The intent an event needs in a guild and in a DM (None: never sent there).
EVENT_INTENTS: dict[str, tuple[int, int | None]] = {
    "MESSAGE_CREATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_DELETE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "TYPING_START": (GUILD_MESSAGE_TYPING, DIRECT_MESSAGE_TYPING),
    "VOICE_STATE_UPDATE": (GUILD_VOICE_STATES, None),
}

CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_SHARD = 4010
CLOSE_DISALLOWED_INTENTS = 4014


@dataclass(frozen=True)
class GatewayFrame:
    """One gateway payload, as a test sees it in `standin.gateway_log`."""

    direction: str  # "in" (bot to stand-in) or "out"
    op: int
    t: str | None
    s: int | None
    d: Any
    at: float


@dataclass
class Connection:
    """One websocket: its own compression stream, so a reconnect starts a fresh one."""

    ws: web.WebSocketResponse
    compress: str | None
    deflate: Any = None

    def __post_init__(self) -> None:
        if self.compress == "zlib-stream":
            self.deflate = zlib.compressobj()

    async def send(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":"))
        if self.deflate is None:
            await self.ws.send_str(raw)
        else:
            await self.ws.send_bytes(self.deflate.compress(raw.encode()) + self.deflate.flush(zlib.Z_SYNC_FLUSH))


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    seq: int = 0
    sent: list[tuple[int, str, Any]] = field(default_factory=list)
    connection: Connection | None = None
    shard: tuple[int, int] = (0, 1)  # (id, count)


def shard_of(guild_id: int, count: int) -> int:
    """The shard that carries a guild's events, by Discord's formula."""
    return (guild_id >> 22) % count


class Gateway:
    """Serves gateway websockets and delivers dispatches to the bot's current session."""

    def __init__(self, standin: DiscordStandin) -> None:
        self.standin = standin
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None  # shard 0's session: the only one without sharding
        self.shards: dict[int, GatewaySession] = {}  # shard id -> its current session
        self.log: list[GatewayFrame] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.connect_queries: list[dict[str, str]] = []
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS  # sent in HELLO to connections made afterwards
        self.ack_heartbeats = True  # False: a stuck gateway that still holds the socket open
        self._send_lock = asyncio.Lock()

    # --- what tests and REST handlers call ------------------------------------------------------

    @property
    def intents(self) -> int | None:
        return self.current.intents if self.current else None

    async def dispatch(self, event: str, data: Any) -> bool:
        """Send an op 0 dispatch to the shard it belongs to, if that session's intents allow it; keep it
        for replay either way."""
        return await self._dispatch_to(self._session_for(data), event, data)

    def _session_for(self, data: Any) -> GatewaySession | None:
        """A guild's events go to its shard; everything else (DMs) to shard 0."""
        session = self.current
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        if session is not None and guild_id is not None:
            session = self.shards.get(shard_of(int(guild_id), session.shard[1]))
        return session

    async def _dispatch_to(self, session: GatewaySession | None, event: str, data: Any) -> bool:
        if session is None or not _wanted(event, data, session.intents):
            return False
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not session.intents & MESSAGE_CONTENT:
            data = _censor(data, self.standin.world.bot.id)
        async with self._send_lock:
            session.seq += 1
            session.sent.append((session.seq, event, data))
            await self._send(session.connection, {"op": 0, "t": event, "s": session.seq, "d": data})
        return True

    async def drop(self, *, resumable: bool = True, code: int = 4000) -> None:
        """Close the socket under the bot (as a network blip would); it reconnects by itself."""
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("drop_gateway(): no bot is connected to the stand-in gateway")
        if not resumable:
            self.sessions.pop(session.session_id, None)
        connection, session.connection = session.connection, None
        await connection.ws.close(code=code, message=b"stand-in dropped the connection")

    async def send_op(self, op: int, d: Any = None) -> None:
        """Send a bare control opcode (7 RECONNECT, 9 INVALID_SESSION, 1 HEARTBEAT request)."""
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("no bot is connected to the stand-in gateway")
        if op == 9 and d is False:
            self.sessions.pop(session.session_id, None)
        await self._send(session.connection, {"op": op, "d": d, "s": None, "t": None})

    async def close_all(self) -> None:
        for session in self.sessions.values():
            if session.connection is not None:
                await session.connection.ws.close()

    # --- the websocket --------------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connect_queries.append(dict(request.query))
        connection = Connection(ws, request.query.get("compress"))
        if connection.compress not in (None, "zlib-stream"):
            # zstd-stream (Python 3.14 or the `zstandard` package): discord.py accepts text frames too.
            log.warning("gateway compression %r is not modelled; sending plain text frames", connection.compress)
            connection.compress = None
        await self._send(
            connection, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
        )
        session: GatewaySession | None = None
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                self._record("in", payload)
                session = await self._handle(connection, session, payload)
        finally:
            if session is not None and session.connection is connection:
                session.connection = None
            self.standin.notify()
        return ws

    async def _handle(
        self, connection: Connection, session: GatewaySession | None, payload: dict
    ) -> GatewaySession | None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            if self.ack_heartbeats:
                await self._send(connection, {"op": 11, "d": None, "s": None, "t": None})
        elif op in (2, 6) and session is not None:
            await connection.ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated.")
        elif op == 2:
            return await self._identify(connection, data)
        elif op == 6:
            return await self._resume(connection, data)
        elif session is None:
            await connection.ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
        elif op == 3:
            pass  # presence updates are only recorded in the log
        elif op == 4:
            await self.standin.voice.on_voice_state_request(data)
        elif op == 8:
            await self._member_chunk(data)
        else:
            self.standin.note_unsupported(f"gateway opcode {op}")
            await connection.ws.close(code=CLOSE_UNKNOWN_OPCODE, message=b"Unknown opcode.")
        return session

    async def _identify(self, connection: Connection, data: dict) -> GatewaySession | None:
        self.identifies.append(data)
        if data.get("token") != self.standin.token:
            await connection.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.standin.approved_intents:
            await connection.ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return None
        shard_id, count = (int(n) for n in data.get("shard") or (0, 1))
        if not 0 <= shard_id < count:
            await connection.ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return None
        session = GatewaySession(secrets.token_hex(16), intents, connection=connection, shard=(shard_id, count))
        self.sessions[session.session_id] = session
        self._make_current(session)
        world = self.standin.world
        guilds = [guild for guild in world.guilds.values() if shard_of(guild.id, count) == shard_id]
        ready = payloads.ready_payload(world, session.session_id, shard=session.shard, guilds=guilds)
        await self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            voice_states = self.standin.voice.states_for(guild)
            await self._dispatch_to(session, "GUILD_CREATE", payloads.guild_payload(world, guild, voice_states))
        return session

    def _make_current(self, session: GatewaySession) -> None:
        self.shards[session.shard[0]] = session
        if session.shard[0] == 0:
            self.current = session

    async def _resume(self, connection: Connection, data: dict) -> GatewaySession | None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.standin.token:
            await self._send(connection, {"op": 9, "d": False, "s": None, "t": None})
            return None
        async with self._send_lock:
            missed = [entry for entry in session.sent if entry[0] > int(data.get("seq") or 0)]
            for seq, event, body in missed:
                await self._send(connection, {"op": 0, "t": event, "s": seq, "d": body})
            session.connection = connection
            self._make_current(session)
        # Discord sends a dict here (discord.py writes into it), despite the TypedDict saying None.
        await self.dispatch("RESUMED", {"_trace": ["standin"]})
        return session

    async def _member_chunk(self, data: dict) -> None:
        guild = self.standin.world.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        wanted = {int(uid) for uid in data.get("user_ids") or []}
        members = [
            payloads.member_payload(guild, self.standin.world.users[uid])
            for uid in guild.member_roles
            if not wanted or uid in wanted
        ]
        chunk = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _send(self, connection: Connection | None, payload: dict[str, Any]) -> None:
        await self.standin.while_stalled()  # an outage: nothing goes out until it ends
        self._record("out", payload)
        if connection is not None and not connection.ws.closed:
            try:
                await connection.send(payload)
            except ConnectionResetError:
                log.debug("gateway socket went away while sending op %s; kept for replay", payload.get("op"))

    def _record(self, direction: str, payload: dict[str, Any]) -> None:
        frame = GatewayFrame(
            direction=direction,
            op=int(payload.get("op", -1)),
            t=payload.get("t"),
            s=payload.get("s"),
            d=payload.get("d"),
            at=self.standin.clock(),
        )
        self.log.append(frame)
        self.standin.notify()


def _wanted(event: str, data: Any, intents: int) -> bool:
    needs = EVENT_INTENTS.get(event)
    if needs is None:
        return True
    in_guild = isinstance(data, dict) and "guild_id" in data
    intent = needs[0] if in_guild else needs[1]
    return intent is not None and bool(intents & intent)


def _censor(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    """Without MESSAGE_CONTENT, Discord blanks guild messages unless they are the bot's or mention it."""
    if "guild_id" not in data:
        return data
    if data.get("author", {}).get("id") == str(bot_id):
        return data
    if any(user.get("id") == str(bot_id) for user in data.get("mentions", [])):
        return data
    return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
