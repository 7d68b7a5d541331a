"""The discord.AudioSource that plays SEL's speech in a voice channel."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from sel.voice.audio import FRAME_BYTES
from sel.voice.tts import Speech


class SpeechSource(discord.AudioSource):
    """Plays pre-rendered 48 kHz stereo 16-bit PCM frames (20 ms, 3840 bytes each), then b"" to end."""

    def __init__(self, frames: Sequence[bytes]) -> None:
        for index, frame in enumerate(frames):
            if len(frame) != FRAME_BYTES:
                raise ValueError(f"frame {index} has {len(frame)} bytes; discord.py needs exactly {FRAME_BYTES}")
        self._frames = list(frames)
        self._next = 0

    @classmethod
    def from_speech(cls, speech: Speech) -> SpeechSource:
        """A source playing ``speech``. Blocks briefly (resampling): build it off the event loop for long clips."""
        return cls(speech.frames_48k_stereo())

    @property
    def frame_count(self) -> int:
        """How many 20 ms frames the clip has."""
        return len(self._frames)

    def read(self) -> bytes:
        """The next 20 ms frame, or b"" once the clip is over (discord.py then stops playing)."""
        if self._next >= len(self._frames):
            return b""
        frame = self._frames[self._next]
        self._next += 1
        return frame

    def is_opus(self) -> bool:
        """False: the frames are raw PCM, which discord.py encodes to opus itself."""
        return False

    def cleanup(self) -> None:
        """Drop the frames once playback ends, so a finished source holds no audio in memory."""
        self._frames = []
        self._next = 0
