"""A queue that plays replies one after another in a voice channel, so none cuts another off.

It needs only a voice-client-like object (discord.VoiceClient fits): ``play(source, after=...)``,
``is_playing()`` and ``stop()``. discord.py calls ``after`` from its player thread when a clip
ends; the queue hands that back to the event loop and starts the next clip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import discord

log = logging.getLogger(__name__)


class VoiceClientLike(Protocol):
    """The part of discord.VoiceClient the queue uses."""

    def play(self, source: discord.AudioSource, *, after: Callable[[Exception | None], Any] | None = None) -> None: ...

    def is_playing(self) -> bool: ...

    def stop(self) -> None: ...


class SpeakingQueue:
    """Plays audio sources on one voice client in the order they were queued.

    Create it inside the running event loop. ``put`` never blocks; ``join`` waits until
    everything queued has played; ``close`` stops the current clip and drops the rest.
    """

    def __init__(self, voice_client: VoiceClientLike, *, busy_poll: float = 0.05) -> None:
        self.voice_client = voice_client
        # Something outside the queue may be playing (e.g. a sound effect); wait for it, politely.
        self.busy_poll = busy_poll
        self._items: asyncio.Queue[discord.AudioSource] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def put(self, source: discord.AudioSource) -> None:
        """Queue ``source`` to play after everything queued before it."""
        if self._closed:
            raise RuntimeError("the speaking queue is closed; make a new one after reconnecting")
        self._items.put_nowait(source)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._play_all(), name="sel-speaking-queue")

    @property
    def pending(self) -> int:
        """How many sources wait behind the one playing."""
        return self._items.qsize()

    async def join(self) -> None:
        """Wait until every queued source has finished playing."""
        await self._items.join()

    def clear(self) -> int:
        """Drop the sources that have not started; return how many were dropped. The current one plays on."""
        dropped = 0
        while not self._items.empty():
            self._items.get_nowait()
            self._items.task_done()
            dropped += 1
        return dropped

    async def close(self) -> None:
        """Stop the current clip, drop the rest, and end the worker."""
        self._closed = True
        self.clear()
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def _play_all(self) -> None:
        while not self._items.empty():
            source = self._items.get_nowait()
            try:
                await self._play_one(source)
            finally:
                self._items.task_done()

    async def _play_one(self, source: discord.AudioSource) -> None:
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[Exception | None] = loop.create_future()

        def after(error: Exception | None) -> None:
            # Runs in discord.py's player thread.
            loop.call_soon_threadsafe(_settle, finished, error)

        while self.voice_client.is_playing():
            await asyncio.sleep(self.busy_poll)
        try:
            self.voice_client.play(source, after=after)
        except Exception:
            # Typically "not connected": this clip is lost, the ones behind it may still play after a reconnect.
            log.exception("could not start playing a queued clip; skipping it")
            return
        try:
            error = await finished
        except asyncio.CancelledError:
            self.voice_client.stop()
            raise
        if error is not None:
            log.warning("a queued clip stopped with an error: %r", error)


def _settle(future: asyncio.Future[Exception | None], error: Exception | None) -> None:
    if not future.done():
        future.set_result(error)
