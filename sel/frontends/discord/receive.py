"""Hearing a voice channel: a discord.VoiceClient that also receives people's audio.

discord.py 2.7 sends audio but has no receive API; it does expose what receiving needs: a hook on
the voice websocket (op 5 SPEAKING tells which SSRC is which person) and listeners on its UDP
socket reader thread. Each RTP packet is opened here in two layers, as Discord sends it:

1. transport: ``aead_xchacha20_poly1305_rtpsize`` (the only mode SEL's discord.py negotiates) with
   the session's secret key; the header (and the RTP extension's 4-byte preamble) is the AAD, the
   last 4 bytes are the nonce, and a header extension's body sits encrypted before the opus frame;
2. DAVE end-to-end encryption, when the call uses it: ``dave_session.decrypt(user_id, audio, frame)``
   on discord.py's own DAVE session, the call open pull requests #58/#62 of discord-ext-voice-recv
   use. The loopback stand-in runs with ``dave_protocol_version: 0``, so this layer is untested here.

Packets from people who did not opt in are dropped before decryption: their audio is never opened.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord
from discord.voice_state import VoiceConnectionState

log = logging.getLogger(__name__)

OPUS_PAYLOAD_TYPE = 0x78  # 120: what Discord uses for opus
SPEAKING = 5
CLIENT_DISCONNECT = 13
AudioHandler = Callable[[int, bytes], None]  # (user id, opus frame), called in discord.py's socket thread
Wanted = Callable[[int], bool]  # user id -> whether SEL may hear them


@dataclass(frozen=True)
class RtpPacket:
    """An RTP packet's fields SEL uses, still encrypted."""

    ssrc: int
    sequence: int
    aad: bytes  # what the transport encryption authenticates but does not hide
    ciphertext: bytes
    nonce: bytes
    extension_words: int  # 32-bit words of header extension at the start of the decrypted payload


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet's parts, or None for anything that is not an opus RTP packet (RTCP, keep-alives)."""
    if len(data) < 12 + 4 + 16 or data[0] >> 6 != 2 or data[1] & 0x7F != OPUS_PAYLOAD_TYPE:
        return None
    sequence, _timestamp, ssrc = struct.unpack_from(">HII", data, 2)
    header = 12 + 4 * (data[0] & 0x0F)  # CSRCs
    words = 0
    if data[0] & 0x10:  # header extension: its 4-byte preamble is in the clear, its body is encrypted
        (words,) = struct.unpack_from(">H", data, header + 2)
        header += 4
    if len(data) < header + 4 + 16:
        return None
    return RtpPacket(ssrc, sequence, data[:header], data[header:-4], data[-4:] + bytes(20), words)


def open_transport(packet: RtpPacket, secret_key: bytes) -> bytes | None:
    """The payload under the transport encryption (the extension body removed), or None if it does not open."""
    import nacl.exceptions
    import nacl.secret

    try:
        payload = nacl.secret.Aead(secret_key).decrypt(packet.ciphertext, packet.aad, packet.nonce)
    except nacl.exceptions.CryptoError:
        return None
    return payload[4 * packet.extension_words :]


class ListeningVoiceClient(discord.VoiceClient):
    """A voice client that maps SSRCs to people and hands each wanted person's opus frames to a handler."""

    def __init__(self, client: discord.Client, channel: discord.abc.Connectable) -> None:
        super().__init__(client, channel)
        self.speakers: dict[int, int] = {}  # ssrc -> user id, from op 5 SPEAKING
        self._handler: AudioHandler | None = None
        self._wanted: Wanted = lambda _user_id: False
        self.dropped = 0  # packets not opened: unknown speaker, not opted in, or not decryptable

    def create_connection_state(self) -> VoiceConnectionState:
        return VoiceConnectionState(self, hook=self._on_voice_message)

    def listen(self, handler: AudioHandler, wanted: Wanted) -> None:
        """Start hearing: ``handler`` gets the opus frames of every person for whom ``wanted`` is True."""
        self._wanted = wanted
        if self._handler is None:
            self._connection.add_socket_listener(self._on_packet)
        self._handler = handler

    def stop_listening(self) -> None:
        if self._handler is not None:
            self._connection.remove_socket_listener(self._on_packet)
            self._handler = None

    async def _on_voice_message(self, _ws: Any, msg: dict[str, Any]) -> None:
        """discord.py's voice websocket hook: learn who speaks on which SSRC."""
        op, data = msg.get("op"), msg.get("d") or {}
        if op == SPEAKING and "user_id" in data and "ssrc" in data:
            self.speakers[int(data["ssrc"])] = int(data["user_id"])
        elif op == CLIENT_DISCONNECT and "user_id" in data:
            gone = int(data["user_id"])
            self.speakers = {ssrc: uid for ssrc, uid in self.speakers.items() if uid != gone}

    def _on_packet(self, data: bytes) -> None:
        """Runs in discord.py's socket reader thread for every datagram."""
        handler, packet = self._handler, parse_rtp(data)
        if handler is None or packet is None:
            return
        user_id = self.speakers.get(packet.ssrc)
        if user_id is None or not self._wanted(user_id):
            self.dropped += 1  # someone who did not opt in (or not yet identified): never decrypted
            return
        frame = self._open(packet, user_id)
        if frame is None:
            self.dropped += 1
            return
        handler(user_id, frame)

    def _open(self, packet: RtpPacket, user_id: int) -> bytes | None:
        state = self._connection
        if state.secret_key is discord.utils.MISSING:
            return None
        frame = open_transport(packet, bytes(state.secret_key))
        if frame is None or not state.can_encrypt or state.dave_session is None:
            return frame
        import davey

        try:
            return bytes(state.dave_session.decrypt(user_id, davey.MediaType.audio, frame))
        except Exception as err:  # a frame from before the key change, or a broken one: skip it
            log.debug("DAVE could not decrypt a frame from %s: %s", user_id, err)
            return None
