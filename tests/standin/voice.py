"""Voice: the main-gateway voice handshake, the voice websocket (wss, v8) and a UDP endpoint.

Transport-only voice, as Discord had it before DAVE: the session description says
`dave_protocol_version: 0`, so discord.py sends opus frames encrypted only with
`aead_xchacha20_poly1305_rtpsize`, which the UDP endpoint decrypts and records per SSRC.

People speak to the bot too (:meth:`VoiceServer.speak_as`): op 5 SPEAKING on the bot's voice
websocket tells their SSRC, then their opus frames arrive as RTP packets every 20 ms, encrypted
with the bot's session key and carrying a one-word header extension, as Discord clients send them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.standin import payloads
from tests.standin.tls import VOICE_HOST

if TYPE_CHECKING:
    from tests.standin.server import DiscordStandin
    from tests.standin.state import Guild, User

log = logging.getLogger(__name__)

MODE = "aead_xchacha20_poly1305_rtpsize"
HEARTBEAT_INTERVAL_MS = 13_750
DISCOVERY_LENGTH = 74
RTP_HEADER = 12
OPUS_SILENCE = b"\xf8\xff\xfe"
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_UNKNOWN_PROTOCOL = 4012
CLOSE_UNKNOWN_ENCRYPTION = 4016


@dataclass(frozen=True)
class VoiceMember:
    """Who is in which voice channel of a guild."""

    user_id: int
    channel_id: int
    session_id: str


@dataclass
class VoiceStream:
    """Everything one SSRC sent: decrypted opus frames in arrival order, with their RTP sequence numbers."""

    ssrc: int
    user_id: int
    frames: list[bytes] = field(default_factory=list)
    sequences: list[int] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each frame's arrival
    undecryptable: int = 0

    @property
    def audio_frames(self) -> list[bytes]:
        """The frames without the trailing silence discord.py sends when playback stops."""
        frames = list(self.frames)
        while frames and frames[-1] == OPUS_SILENCE:
            frames.pop()
        return frames


@dataclass
class VoiceSession:
    """One voice websocket: its identity, encryption key and speaking updates."""

    guild_id: int
    user_id: int
    ssrc: int
    secret_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    mode: str | None = None
    speaking: list[int] = field(default_factory=list)
    closed: bool = False


class VoiceServer:
    """Voice states per guild, the voice websocket and the UDP endpoint that records audio."""

    def __init__(self, standin: DiscordStandin) -> None:
        self.standin = standin
        self.members: dict[int, dict[int, VoiceMember]] = {}  # guild id -> user id -> state
        self.tokens: dict[int, str] = {}  # guild id -> the bot's current voice server token
        self.sessions: list[VoiceSession] = []
        self.streams: dict[int, VoiceStream] = {}
        self.identifies: list[dict[str, Any]] = []
        self.udp_port = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._next_ssrc = 1000
        self._sockets: dict[int, web.WebSocketResponse] = {}  # ssrc -> the voice websocket it identified on
        self._senders: dict[int, _VoiceSender] = {}  # ssrc -> that websocket's sender
        self._speaker_ssrcs: dict[int, int] = {}  # user id -> the SSRC their speech is sent with
        self.spoke: list[tuple[int, float, float]] = []  # (user id, first packet, last packet), time.monotonic()
        self._udp_peers: dict[int, tuple[str, int]] = {}  # ssrc -> the client's UDP address (from IP discovery)
        self._held: list[dict[str, Any]] | None = None  # VOICE_SERVER_UPDATEs held back by hold_joins()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=("127.0.0.1", 0))
        self._transport = transport
        self.udp_port = transport.get_extra_info("sockname")[1]

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # --- voice states on the main gateway -------------------------------------------------------

    def states_for(self, guild: Guild) -> list[dict[str, Any]]:
        """Voice states for GUILD_CREATE."""
        world = self.standin.world
        return [
            payloads.voice_state_payload(world, guild, world.users[m.user_id], m.channel_id, m.session_id)
            for m in self.members.get(guild.id, {}).values()
        ]

    def channel_of(self, guild_id: int, user_id: int) -> int | None:
        member = self.members.get(guild_id, {}).get(user_id)
        return member.channel_id if member else None

    async def set_voice_state(self, guild: Guild, user: User, channel_id: int | None) -> str:
        """Move `user` into a voice channel (None: out of voice) and dispatch VOICE_STATE_UPDATE."""
        here = self.members.setdefault(guild.id, {})
        session_id = secrets.token_hex(16)
        if channel_id is None:
            here.pop(user.id, None)
        else:
            here[user.id] = VoiceMember(user.id, channel_id, session_id)
        data = payloads.voice_state_payload(self.standin.world, guild, user, channel_id, session_id)
        await self.standin.gateway.dispatch("VOICE_STATE_UPDATE", data)
        return session_id

    async def on_voice_state_request(self, data: dict[str, Any]) -> None:
        """Main-gateway op 4 from the bot: join, move or leave a voice channel."""
        world = self.standin.world
        guild = world.guilds.get(int(data["guild_id"]))
        if guild is None:
            self.standin.note_unsupported(f"voice state update for unknown guild {data['guild_id']}")
            return
        channel_id = int(data["channel_id"]) if data.get("channel_id") else None
        await self.set_voice_state(guild, world.bot, channel_id)
        if channel_id is None:
            self.tokens.pop(guild.id, None)
            return
        token = secrets.token_hex(8)
        self.tokens[guild.id] = token
        server = {"token": token, "guild_id": str(guild.id), "endpoint": VOICE_HOST}
        if self._held is not None:
            self._held.append(server)
            return
        await self.standin.gateway.dispatch("VOICE_SERVER_UPDATE", server)

    def hold_joins(self) -> None:
        """Hold back the voice server the bot needs to (re)join voice, so it stays not connected."""
        if self._held is None:
            self._held = []

    async def release_joins(self) -> None:
        """Send the held-back voice servers: the bot finishes joining."""
        held, self._held = self._held or [], None
        for server in held:
            await self.standin.gateway.dispatch("VOICE_SERVER_UPDATE", server)

    async def drop(self, guild_id: int, *, code: int = 4000) -> None:
        """Close the bot's voice websocket in a guild, as a network blip would; discord.py reconnects by itself."""
        bot_id = self.standin.world.bot.id
        live = [s for s in self.sessions if s.guild_id == guild_id and s.user_id == bot_id and not s.closed]
        if not live:
            raise RuntimeError(f"drop(): the bot has no voice connection in guild {guild_id}")
        ssrc = live[-1].ssrc
        # Real voice servers keep sending clients UDP traffic (other people's audio). discord.py's
        # socket reader needs some to notice its socket changed: without it, it keeps waiting on the
        # old socket for up to 30 s and the reconnect's IP discovery times out.
        peer = self._udp_peers.get(ssrc)
        if peer is not None and self._transport is not None:
            self._transport.sendto(bytes(8), peer)
        await self._sockets[ssrc].close(code=code, message=b"stand-in dropped the voice connection")

    # --- people speaking to the bot -------------------------------------------------------------

    async def speak_as(self, user: User, guild_id: int, opus_frames: list[bytes], *, trailing_silence: int = 5) -> None:
        """``user`` says ``opus_frames`` (20 ms each) in the bot's voice channel, in real time.

        Like a Discord client: SPEAKING (op 5, with the user's SSRC) first, then one RTP packet per
        frame, then a few silence frames, then nothing (clients stop sending when their user is quiet).
        """
        bot_ssrc = self._bot_ssrc(guild_id)
        key = next(s for s in reversed(self.sessions) if s.ssrc == bot_ssrc).secret_key
        ssrc = self._speaker_ssrcs.setdefault(user.id, 5000 + len(self._speaker_ssrcs))
        await self._senders[bot_ssrc].send(5, {"user_id": str(user.id), "ssrc": ssrc, "speaking": 1})
        frames = [*opus_frames, *[OPUS_SILENCE] * trailing_silence]
        first = time.monotonic()
        for index, frame in enumerate(frames):
            self._send_rtp(bot_ssrc, key, ssrc, index, frame)
            await asyncio.sleep(max(0.0, first + 0.02 * (index + 1) - time.monotonic()))
        self.spoke.append((user.id, first, time.monotonic()))

    def _bot_ssrc(self, guild_id: int) -> int:
        bot_id = self.standin.world.bot.id
        live = [s for s in self.sessions if s.guild_id == guild_id and s.user_id == bot_id and not s.closed]
        if not live or live[-1].ssrc not in self._udp_peers:
            raise RuntimeError(f"speak_as(): the bot is not connected to voice in guild {guild_id}")
        return live[-1].ssrc

    def _send_rtp(self, bot_ssrc: int, key: bytes, ssrc: int, index: int, frame: bytes) -> None:
        import nacl.secret

        # Version 2 with the extension bit; the extension's preamble (0xBEDE, one word) is in the clear.
        header = struct.pack(">BBHII", 0x90, 0x78, index & 0xFFFF, (index * 960) & 0xFFFFFFFF, ssrc)
        header += b"\xbe\xde\x00\x01"
        nonce = struct.pack(">I", index) + bytes(20)
        extension_body = b"\x10\x7f\x00\x00"  # an audio-level element, encrypted like the audio
        sealed = nacl.secret.Aead(key).encrypt(extension_body + frame, header, nonce).ciphertext
        if self._transport is not None:
            self._transport.sendto(header + sealed + nonce[:4], self._udp_peers[bot_ssrc])

    # --- the voice websocket --------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.standin.notify()
        sender = _VoiceSender(ws)
        await sender.send(8, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})
        session: VoiceSession | None = None
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    session = await self._handle(sender, session, json.loads(msg.data))
                    if session is not None:
                        self._sockets[session.ssrc] = ws
                        self._senders[session.ssrc] = sender
                    self.standin.notify()
        finally:
            if session is not None:
                session.closed = True
                self._sockets.pop(session.ssrc, None)
                self._senders.pop(session.ssrc, None)
            self.standin.notify()
        return ws

    async def _handle(self, sender: _VoiceSender, session: VoiceSession | None, payload: dict) -> VoiceSession | None:
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 0:
            return await self._identify(sender, data)
        if op == 3:
            await sender.send(6, {"t": data.get("t") if isinstance(data, dict) else data})
        elif op == 7:
            await sender.send(9, None)
        elif session is None:
            await sender.ws.close(code=4003, message=b"Not authenticated.")
        elif op == 1:
            await self._select_protocol(sender, session, data)
        elif op == 5:
            session.speaking.append(int(data.get("speaking", 0)))
        else:
            self.standin.note_unsupported(f"voice opcode {op}")
        return session

    async def _identify(self, sender: _VoiceSender, data: dict) -> VoiceSession | None:
        self.identifies.append(data)
        guild_id = int(data.get("server_id", 0))
        user_id = int(data.get("user_id", 0))
        member = self.members.get(guild_id, {}).get(user_id)
        if (
            self.tokens.get(guild_id) != data.get("token")
            or member is None
            or member.session_id != data.get("session_id")
        ):
            await sender.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        session = VoiceSession(guild_id=guild_id, user_id=user_id, ssrc=self._next_ssrc)
        self._next_ssrc += 1
        self.sessions.append(session)
        ready = {"ssrc": session.ssrc, "ip": "127.0.0.1", "port": self.udp_port, "modes": [MODE]}
        await sender.send(2, ready)
        return session

    async def _select_protocol(self, sender: _VoiceSender, session: VoiceSession, data: dict) -> None:
        if data.get("protocol") != "udp":
            await sender.ws.close(code=CLOSE_UNKNOWN_PROTOCOL, message=b"Unknown protocol.")
            return
        mode = (data.get("data") or {}).get("mode")
        if mode != MODE:
            await sender.ws.close(code=CLOSE_UNKNOWN_ENCRYPTION, message=b"Unknown encryption mode.")
            return
        session.mode = mode
        description = {"mode": mode, "secret_key": list(session.secret_key), "dave_protocol_version": 0}
        await sender.send(4, description)

    # --- UDP ------------------------------------------------------------------------------------

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        """Answer IP discovery; decrypt and record RTP audio. Returns a reply datagram if one is due."""
        if len(data) == DISCOVERY_LENGTH and data[:2] == b"\x00\x01":
            (ssrc,) = struct.unpack_from(">I", data, 4)
            self._udp_peers[ssrc] = addr
            reply = bytearray(DISCOVERY_LENGTH)
            struct.pack_into(">HHI", reply, 0, 2, 70, ssrc)
            reply[8 : 8 + len(addr[0])] = addr[0].encode()
            struct.pack_into(">H", reply, DISCOVERY_LENGTH - 2, addr[1])
            return bytes(reply)
        if len(data) > RTP_HEADER + 4 and data[0] == 0x80:
            self._record_rtp(data)
        return None

    def _record_rtp(self, packet: bytes) -> None:
        import nacl.exceptions
        import nacl.secret

        sequence, _timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
        session = next((s for s in reversed(self.sessions) if s.ssrc == ssrc), None)
        if session is None:
            self.standin.note_unsupported(f"RTP from unknown ssrc {ssrc}")
            return
        stream = self.streams.setdefault(ssrc, VoiceStream(ssrc=ssrc, user_id=session.user_id))
        header, ciphertext, nonce = packet[:RTP_HEADER], packet[RTP_HEADER:-4], packet[-4:] + bytes(20)
        try:
            frame = nacl.secret.Aead(session.secret_key).decrypt(ciphertext, header, nonce)
        except nacl.exceptions.CryptoError:
            stream.undecryptable += 1
            log.warning("voice packet %s from ssrc %s did not decrypt", sequence, ssrc)
            return
        stream.frames.append(frame)
        stream.sequences.append(sequence)
        stream.arrived.append(time.monotonic())
        self.standin.notify()


class _VoiceSender:
    """Numbers outgoing voice payloads (`seq`, v8) so discord.py can acknowledge them."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0

    async def send(self, op: int, d: Any) -> None:
        self.seq += 1
        if not self.ws.closed:
            await self.ws.send_str(json.dumps({"op": op, "d": d, "seq": self.seq}))


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: VoiceServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.on_datagram(data, addr)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
