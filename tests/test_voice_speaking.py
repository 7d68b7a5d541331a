"""The speaking queue plays replies one after another on a voice client.

Discord's voice servers cannot exist here, so the voice client is a stand-in that behaves
like discord.VoiceClient: play() refuses while something plays, a player thread reads the
source frame by frame, and ``after`` is called from that thread when the source runs dry.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from sel.voice.audio import FRAME_BYTES
from sel.voice.source import SpeechSource
from sel.voice.speaking import SpeakingQueue


class StandInVoiceClient:
    """Plays sources in a thread like discord.py's AudioPlayer, at ``frame_delay`` per frame."""

    def __init__(self, frame_delay: float = 0.002, connected: bool = True) -> None:
        self.frame_delay = frame_delay
        self.connected = connected
        self.played: list[bytes] = []  # first frame of each source, in play order
        self.overlaps = 0
        self._playing = threading.Event()
        self._stop = threading.Event()

    def is_playing(self) -> bool:
        return self._playing.is_set()

    def stop(self) -> None:
        self._stop.set()

    def play(self, source: Any, *, after: Callable[[Exception | None], Any] | None = None) -> None:
        if not self.connected:
            raise RuntimeError("Not connected to voice.")
        if self._playing.is_set():
            self.overlaps += 1
            raise RuntimeError("Already playing audio.")
        self._playing.set()
        self._stop.clear()
        threading.Thread(target=self._run, args=(source, after), daemon=True).start()

    def _run(self, source: Any, after: Callable[[Exception | None], Any] | None) -> None:
        first = source.read()
        self.played.append(first)
        frame = first
        while frame and not self._stop.is_set():
            self._stop.wait(self.frame_delay)
            frame = source.read()
        source.cleanup()
        self._playing.clear()
        if after is not None:
            after(None)


def clip(marker: int, frames: int = 5) -> SpeechSource:
    """A source whose frames are all filled with ``marker``, so the play order can be read back."""
    return SpeechSource([bytes([marker]) * FRAME_BYTES] * frames)


async def test_queued_replies_play_in_order_without_cutting_each_other_off() -> None:
    client = StandInVoiceClient()
    queue = SpeakingQueue(client)
    for marker in (1, 2, 3):
        queue.put(clip(marker))
    assert queue.pending >= 2
    await asyncio.wait_for(queue.join(), timeout=10)
    assert [frame[0] for frame in client.played] == [1, 2, 3]
    assert client.overlaps == 0, "a clip was started while another was playing"
    assert not client.is_playing()


async def test_queue_waits_for_audio_it_did_not_start() -> None:
    client = StandInVoiceClient()
    client.play(clip(9, frames=20))  # e.g. a sound effect played directly
    queue = SpeakingQueue(client, busy_poll=0.005)
    queue.put(clip(1))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert [frame[0] for frame in client.played] == [9, 1]
    assert client.overlaps == 0


async def test_queue_restarts_after_going_idle() -> None:
    client = StandInVoiceClient()
    queue = SpeakingQueue(client)
    queue.put(clip(1))
    await asyncio.wait_for(queue.join(), timeout=10)
    queue.put(clip(2))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert [frame[0] for frame in client.played] == [1, 2]


async def test_clear_drops_waiting_replies_but_finishes_the_current_one() -> None:
    client = StandInVoiceClient(frame_delay=0.01)
    queue = SpeakingQueue(client)
    for marker in (1, 2, 3):
        queue.put(clip(marker, frames=10))
    while not client.played:
        await asyncio.sleep(0.001)
    assert queue.clear() == 2
    await asyncio.wait_for(queue.join(), timeout=10)
    assert [frame[0] for frame in client.played] == [1]


async def test_close_stops_the_current_clip_and_refuses_more() -> None:
    client = StandInVoiceClient(frame_delay=0.05)
    queue = SpeakingQueue(client)
    queue.put(clip(1, frames=200))  # 10 s at this pace
    queue.put(clip(2))
    while not client.played:
        await asyncio.sleep(0.001)
    await asyncio.wait_for(queue.close(), timeout=2)
    await asyncio.wait_for(queue.join(), timeout=2)
    for _ in range(100):
        if not client.is_playing():
            break
        await asyncio.sleep(0.01)
    assert not client.is_playing(), "close() should stop the clip that was playing"
    assert [frame[0] for frame in client.played] == [1]
    with pytest.raises(RuntimeError, match="closed"):
        queue.put(clip(3))


async def test_a_clip_that_cannot_start_is_logged_and_the_next_still_plays(caplog: pytest.LogCaptureFixture) -> None:
    client = StandInVoiceClient(connected=False)
    queue = SpeakingQueue(client)
    caplog.set_level(logging.ERROR, logger="sel.voice.speaking")
    queue.put(clip(1))
    await asyncio.sleep(0)  # the first attempt fails while disconnected
    await asyncio.wait_for(_until(lambda: "could not start" in caplog.text), timeout=5)
    client.connected = True
    queue.put(clip(2))
    await asyncio.wait_for(queue.join(), timeout=10)
    assert [frame[0] for frame in client.played] == [2]


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)
