"""Voice with the real discord.py VoiceClient: handshake, IP discovery, decryption, recorded frames."""

from __future__ import annotations

import asyncio
import ctypes.util
import io
import json
import math
import struct

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.standin import DiscordStandin
from tests.standin.voice import OPUS_SILENCE

SILENCE_TAIL = 5  # discord.py's AudioPlayer ends every playback with five silence frames


class OpusFrames(discord.AudioSource):
    """Pre-encoded frames, so the transport is tested without an encoder in the way."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = list(frames)

    def read(self) -> bytes:
        return self.frames.pop(0) if self.frames else b""

    def is_opus(self) -> bool:
        return True


def make_bot(standin: DiscordStandin) -> commands.Bot:
    return commands.Bot(command_prefix="!", intents=discord.Intents.default(), **standin.client_options())


async def play(voice: discord.VoiceClient, source: discord.AudioSource) -> None:
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()
    voice.play(source, after=lambda error: loop.call_soon_threadsafe(finished.set))
    await asyncio.wait_for(finished.wait(), timeout=5)


async def test_played_opus_frames_arrive_decrypted_in_order(standin: DiscordStandin) -> None:
    sent = [bytes([0xFC, n, n, n]) for n in range(10)]
    bot = make_bot(standin)
    async with standin.running(bot):
        voice = await bot.get_channel(standin.lounge.id).connect(timeout=5)
        assert standin.voice.channel_of(standin.guild.id, bot.user.id) == standin.lounge.id
        await play(voice, OpusFrames(sent))
        stream = await standin.wait_for(
            lambda: next(
                (s for s in standin.voice.streams.values() if len(s.frames) >= len(sent) + SILENCE_TAIL), None
            ),
            what="all frames plus the silence tail",
        )
        await voice.disconnect()
        await standin.wait_for(lambda: standin.voice.channel_of(standin.guild.id, bot.user.id) is None)
    assert stream.audio_frames == sent and stream.frames[len(sent) :] == [OPUS_SILENCE] * SILENCE_TAIL
    assert stream.sequences == list(range(stream.sequences[0], stream.sequences[0] + len(stream.frames)))
    assert stream.undecryptable == 0 and stream.user_id == standin.world.bot.id
    (session,) = standin.voice.sessions
    assert session.mode == "aead_xchacha20_poly1305_rtpsize" and 1 in session.speaking
    assert standin.voice.identifies[0]["max_dave_protocol_version"] >= 0


async def test_pcm_playback_is_opus_encoded_and_decodes_back_to_the_same_length(standin: DiscordStandin) -> None:
    if ctypes.util.find_library("opus") is None:
        pytest.skip("libopus is not installed (apt-get install libopus0)")
    frame = discord.opus.Encoder.FRAME_SIZE  # 20 ms of 48 kHz stereo s16le = 3840 bytes
    tone = b"".join(struct.pack("<hh", s, s) for s in (int(8000 * math.sin(i / 10)) for i in range(frame // 4)))
    bot = make_bot(standin)
    async with standin.running(bot):
        voice = await bot.get_channel(standin.lounge.id).connect(timeout=5)
        await play(voice, discord.PCMAudio(io.BytesIO(tone * 8)))
        stream = await standin.wait_for(
            lambda: next((s for s in standin.voice.streams.values() if len(s.frames) >= 8 + SILENCE_TAIL), None)
        )
        await voice.disconnect()
    decoder = discord.opus.Decoder()
    pcm = [decoder.decode(f) for f in stream.audio_frames]
    assert len(pcm) == 8 and all(len(chunk) == frame for chunk in pcm)
    assert any(any(chunk) for chunk in pcm), "the tone should not decode to silence"


async def test_a_user_joining_voice_is_seen_by_the_bot(standin: DiscordStandin) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        update = asyncio.create_task(bot.wait_for("voice_state_update", timeout=5))
        await standin.join_voice(standin.alice, standin.lounge)
        member, before, after = await update
    assert member.id == standin.alice.id and before.channel is None
    assert after.channel is not None and after.channel.id == standin.lounge.id


async def test_voice_identify_with_a_wrong_token_is_refused(standin: DiscordStandin) -> None:
    async with aiohttp.ClientSession(connector=standin.connector()) as http:
        ws = await http.ws_connect("wss://voice.standin.discord.media/?v=8")
        hello = json.loads((await ws.receive(timeout=2)).data)
        identify = {"server_id": str(standin.guild.id), "user_id": "1", "session_id": "x", "token": "bad"}
        await ws.send_str(json.dumps({"op": 0, "d": identify}))
        closed = await ws.receive(timeout=2)
    assert hello["op"] == 8 and closed.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 4004
