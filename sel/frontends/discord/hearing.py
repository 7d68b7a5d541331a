"""One voice channel's ears: each opted-in speaker's opus decoded, judged by the VAD, cut into turns.

Frames arrive in discord.py's socket reader thread (see receive.py). Per speaker there is an opus
decoder, a :class:`VadStream` and a :class:`Segmenter`; the turn events go to the event loop with
``call_soon_threadsafe``. Audio stays in memory only as long as the utterance lasts: it is handed
over once, to be transcribed, and never written anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sel.voice.turns import Segmenter, TurnSettings, Utterance
from sel.voice.vad import VadStream

if TYPE_CHECKING:
    import discord.opus
    import numpy as np

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.02
Started = Callable[[int], None]  # user id: someone started talking (for barge-in)
Heard = Callable[[int, Utterance], None]  # user id, what they said


@dataclass
class _Speaker:
    decoder: discord.opus.Decoder
    vad: VadStream
    turns: Segmenter
    lock: threading.Lock = field(default_factory=threading.Lock)


class Hearing:
    """Turns of speech per person in one voice channel. ``hear`` is called from any thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_started: Started,
        on_heard: Heard,
        *,
        settings: TurnSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self.on_started = on_started
        self.on_heard = on_heard
        self.settings = settings or TurnSettings()
        self.clock = clock
        self._speakers: dict[int, _Speaker] = {}
        self._lock = threading.Lock()

    def hear(self, user_id: int, opus_frame: bytes) -> None:
        """One opus frame from ``user_id`` (already decrypted)."""
        speaker = self._speaker(user_id)
        with speaker.lock:
            pcm48, samples16 = _decode(speaker.decoder, opus_frame)
            speech = speaker.vad.accept(samples16)
            started, ended = speaker.turns.feed(pcm48, FRAME_SECONDS, speech, self.clock())
        self._report(user_id, started, ended)

    def tick(self) -> None:
        """End the turns of people who have gone quiet (their clients stopped sending packets)."""
        with self._lock:
            speakers = list(self._speakers.items())
        now = self.clock()
        for user_id, speaker in speakers:
            with speaker.lock:
                ended = speaker.turns.tick(now)
            self._report(user_id, False, ended)

    def forget(self, user_id: int) -> None:
        """Drop everything held for ``user_id`` (they opted out or left): a half-heard turn is discarded."""
        with self._lock:
            self._speakers.pop(user_id, None)

    def _speaker(self, user_id: int) -> _Speaker:
        with self._lock:
            speaker = self._speakers.get(user_id)
            if speaker is None:
                import discord.opus

                speaker = _Speaker(discord.opus.Decoder(), VadStream(), Segmenter(self.settings))
                self._speakers[user_id] = speaker
            return speaker

    def _report(self, user_id: int, started: bool, ended: Utterance | None) -> None:
        if self.loop.is_closed():
            return
        if started:
            self.loop.call_soon_threadsafe(self.on_started, user_id)
        if ended is not None:
            self.loop.call_soon_threadsafe(self.on_heard, user_id, ended)


def _decode(decoder: discord.opus.Decoder, frame: bytes) -> tuple[bytes, np.ndarray]:
    """(48 kHz mono int16 PCM for Whisper later, 16 kHz float32 for the VAD now) from one opus frame."""
    import numpy as np

    stereo = np.frombuffer(decoder.decode(frame, fec=False), dtype=np.int16).reshape(-1, 2)
    mono = stereo.mean(axis=1)
    usable = mono.size - mono.size % 3
    # Averaging three samples is a crude low-pass before keeping every third: enough for the VAD.
    vad_samples = (mono[:usable].reshape(-1, 3).mean(axis=1) / 32768.0).astype(np.float32)
    return mono.astype(np.int16).tobytes(), vad_samples
