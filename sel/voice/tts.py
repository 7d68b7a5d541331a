"""Text-to-speech with Piper, in-process (no subprocess): text in, int16 mono speech out.

:meth:`TextToSpeech.synthesize` blocks (ONNX inference); async callers use
:meth:`TextToSpeech.speak`, which runs it in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sel.config import VoiceSettings
from sel.errors import InputError, ModelError
from sel.voice import audio

if TYPE_CHECKING:
    import numpy as np
    from piper import PiperVoice

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Speech:
    """Synthesized speech: int16 mono ``samples`` at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.size / self.sample_rate

    def frames_48k_stereo(self) -> list[bytes]:
        """48 kHz stereo 16-bit PCM in 20 ms frames of exactly 3840 bytes, covering the whole clip."""
        return audio.pcm_frames(audio.pcm_48k_stereo(self.samples, self.sample_rate))

    def wav(self) -> bytes:
        """The speech as a WAV file."""
        return audio.wav_bytes(self.samples, self.sample_rate)

    def ogg_opus(self) -> bytes:
        """The speech as an ogg/opus file (48 kHz mono), the format of Discord voice messages."""
        return audio.encode_ogg_opus(self.samples, self.sample_rate)

    def write_wav(self, path: Path) -> None:
        """Write the speech to ``path`` as WAV, atomically."""
        audio.write_atomically(path, self.wav())


class TextToSpeech:
    """A Piper voice. The model loads on first use (or :meth:`load`), in the calling thread."""

    def __init__(self, model_path: Path, config_path: Path | None = None) -> None:
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{self.model_path}.json")
        self._voice: PiperVoice | None = None
        # One synthesis at a time: ONNX already uses every core, parallel runs only thrash.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: VoiceSettings) -> TextToSpeech:
        """The voice PIPER_MODEL names (its config is the same path plus ".json")."""
        return cls(settings.piper_model)

    @property
    def sample_rate(self) -> int:
        """The voice's native sample rate (loads the voice)."""
        return self.load().config.sample_rate

    def load(self) -> PiperVoice:
        """Load the voice if not loaded yet; raise ModelError if its files are missing or unreadable."""
        with self._lock:
            if self._voice is None:
                self._voice = self._load()
            return self._voice

    def _load(self) -> PiperVoice:
        hint = "set PIPER_MODEL to a Piper .onnx voice (with its .onnx.json beside it), or run `sel models`"
        for path in (self.model_path, self.config_path):
            if not path.is_file():
                raise ModelError(f"PIPER_MODEL: {path} not found; {hint}")
        from onnxruntime.capi import onnxruntime_pybind11_state as ort
        from piper import PiperVoice

        # A bad .json shows up as ValueError/KeyError; a bad .onnx as onnxruntime's own exception types.
        bad_voice = (ValueError, KeyError, OSError, ort.InvalidProtobuf, ort.InvalidGraph, ort.Fail, ort.NoSuchFile)
        try:
            voice = PiperVoice.load(self.model_path, config_path=self.config_path)
        except bad_voice as err:
            log.debug("loading Piper voice %s failed: %s", self.model_path, err)
            raise ModelError(f"PIPER_MODEL={self.model_path}: not a usable Piper voice; {hint}") from None
        log.debug("loaded Piper voice %s (%d Hz)", self.model_path, voice.config.sample_rate)
        return voice

    def synthesize(self, text: str) -> Speech:
        """Speak ``text``; blocks for the whole synthesis. Raise InputError if there is nothing to say."""
        import numpy as np

        if not text.strip():
            raise InputError("there is nothing to say: the text is empty; give some words to speak")
        voice = self.load()
        with self._lock:
            chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text)]
        if not chunks:
            raise InputError("there is nothing to say: the text has no speakable words; give some words to speak")
        return Speech(np.concatenate(chunks), voice.config.sample_rate)

    async def speak(self, text: str) -> Speech:
        """:meth:`synthesize` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.synthesize, text)
