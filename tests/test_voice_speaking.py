"""The speaking queue plays replies one after another on the real discord.VoiceClient.

The client is connected to the stand-in's voice server, which decrypts and records every opus
frame it receives. discord.py ends each clip with five silence frames, so the recording reads
back as the clips that were played, in order, each as its length in 20 ms frames.
"""

from __future__ import annotations

import asyncio
import ctypes.util
import logging
import math
import struct
import threading
from collections.abc import AsyncIterator, Callable

import discord
import pytest
from discord.ext import commands

from sel.frontends.discord.speaking import SpeakingQueue
from sel.frontends.discord.speech_source import SpeechSource
from sel.voice.audio import FRAME_BYTES
from tests.standin import DiscordStandin
from tests.standin.voice import OPUS_SILENCE, VoiceStream

pytestmark = pytest.mark.skipif(
    ctypes.util.find_library("opus") is None, reason="libopus is not installed (apt-get install libopus0)"
)

SILENCE_TAIL = 5  # discord.py ends every playback with five silence frames
# 20 ms of a 440 Hz tone, 48 kHz stereo s16le: never encoded as the silence frame.
TONE = b"".join(
    struct.pack("<hh", v, v) for v in (int(6000 * math.sin(i * 2 * math.pi * 440 / 48000)) for i in range(960))
)


def clip(frames: int) -> SpeechSource:
    return SpeechSource([TONE] * frames)


class EndlessClip(SpeechSource):
    """A clip that sounds until ``until`` is set (never, by default): it ends only when told, or stopped."""

    def __init__(self, until: threading.Event | None = None) -> None:
        super().__init__([TONE])
        self.until = until or threading.Event()
        self.ended = False  # True once it ended by itself (rather than being stopped)

    def read(self) -> bytes:
        self.ended = self.until.is_set()
        return b"" if self.ended else TONE


@pytest.fixture
async def voice(standin: DiscordStandin) -> AsyncIterator[discord.VoiceClient]:
    """A real discord.py bot connected to the stand-in's "Lounge" voice channel."""
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), **standin.client_options())
    async with standin.running(bot):
        client = await bot.get_channel(standin.lounge.id).connect(timeout=5)  # type: ignore[union-attr]
        try:
            yield client
        finally:
            await client.disconnect(force=True)


async def clips_heard(standin: DiscordStandin, voice: discord.VoiceClient) -> list[int]:
    """Once every packet the client sent has arrived and every playback has ended with discord.py's
    silence frames: the clips heard, in order, as their lengths in frames."""

    def streams() -> list[VoiceStream]:
        return sorted(standin.voice.streams.values(), key=lambda s: s.ssrc)  # one per connection, in order

    def complete() -> bool:
        ended = all(s.frames[-SILENCE_TAIL:] == [OPUS_SILENCE] * SILENCE_TAIL for s in streams())
        return ended and sum(len(s.frames) for s in streams()) >= voice.sequence

    await standin.wait_for(complete, what=f"all {voice.sequence} packets, each playback ended with silence")
    lengths, run = [], 0
    for stream in streams():
        assert stream.undecryptable == 0
        for frame in stream.frames:
            if frame != OPUS_SILENCE:
                run += 1
            elif run:
                lengths.append(run)
                run = 0
    return lengths


async def until(condition: Callable[[], object], what: str) -> None:
    """Wait for state the stand-in does not see (the player thread's), checking every few ms."""
    try:
        async with asyncio.timeout(10):
            while not condition():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out after 10 s waiting for {what}") from None


async def test_queued_replies_play_in_order_without_cutting_each_other_off(standin, voice) -> None:
    queue = SpeakingQueue(voice)
    for frames in (3, 4, 5):
        queue.put(clip(frames))
    assert queue.pending >= 2
    await asyncio.wait_for(queue.join(), timeout=10)
    assert await clips_heard(standin, voice) == [3, 4, 5], "each clip whole, in the order queued"
    assert not voice.is_playing()


async def test_every_frame_arrives_as_exactly_one_20_ms_frame(standin, voice) -> None:
    queue = SpeakingQueue(voice)
    queue.put(clip(6))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert await clips_heard(standin, voice) == [6]
    decoder = discord.opus.Decoder()
    (stream,) = standin.voice.streams.values()
    pcm = [decoder.decode(frame) for frame in stream.audio_frames]
    assert [len(chunk) for chunk in pcm] == [FRAME_BYTES] * 6, "each source frame must be one 3840-byte frame"
    assert all(any(chunk) for chunk in pcm), "the tone should not decode to silence"


async def test_queue_waits_for_audio_it_did_not_start(standin, voice, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="sel.frontends.discord.speaking")
    voice.play(clip(20))  # e.g. a sound effect played directly
    queue = SpeakingQueue(voice, busy_poll=0.005)
    queue.put(clip(3))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert await clips_heard(standin, voice) == [20, 3]
    assert "could not start" not in caplog.text


async def test_queue_restarts_after_going_idle(standin, voice) -> None:
    queue = SpeakingQueue(voice)
    queue.put(clip(3))
    await asyncio.wait_for(queue.join(), timeout=10)
    queue.put(clip(4))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert await clips_heard(standin, voice) == [3, 4]


async def test_clear_drops_waiting_replies_but_finishes_the_current_one(standin, voice) -> None:
    first_may_end = threading.Event()
    first = EndlessClip(first_may_end)
    queue = SpeakingQueue(voice)
    queue.put(first)
    queue.put(clip(3))
    queue.put(clip(4))
    await until(voice.is_playing, "the first clip to start")
    assert queue.clear() == 2
    first_may_end.set()
    await asyncio.wait_for(queue.join(), timeout=10)
    heard = await clips_heard(standin, voice)
    assert len(heard) == 1 and heard[0] not in (3, 4), f"only the first clip should have played: {heard}"
    assert first.ended, "the clip playing when the queue was cleared must play to its end"


async def test_close_stops_the_current_clip_and_refuses_more(standin, voice) -> None:
    queue = SpeakingQueue(voice)
    queue.put(EndlessClip())
    queue.put(clip(3))
    await standin.wait_for(lambda: standin.voice.streams, what="the first clip to be heard")
    await asyncio.wait_for(queue.close(), timeout=2)
    await asyncio.wait_for(queue.join(), timeout=2)
    await until(lambda: not voice.is_playing(), "the endless clip to stop")
    heard = await clips_heard(standin, voice)
    assert len(heard) == 1 and heard[0] != 3, f"close() must stop the clip playing and drop the rest: {heard}"
    with pytest.raises(RuntimeError, match="closed"):
        queue.put(clip(3))


async def test_a_clip_that_cannot_start_is_logged_and_the_next_still_plays(standin, voice, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="sel.frontends.discord.speaking")
    queue = SpeakingQueue(voice)
    standin.voice.hold_joins()  # the connection drops and cannot come back until released
    await standin.voice.drop(standin.guild.id)
    await until(lambda: not voice.is_connected(), "the voice client to notice the drop")
    queue.put(clip(3))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert "could not start" in caplog.text
    await standin.voice.release_joins()
    await until(voice.is_connected, "the voice client to reconnect")
    queue.put(clip(4))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert await clips_heard(standin, voice) == [4], "the clip queued while disconnected is lost, the next plays"
