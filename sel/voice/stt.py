"""Speech-to-text with faster-whisper: voice messages and audio/video files in, a Transcript out.

:meth:`SpeechToText.transcribe` blocks (decoding and Whisper); async callers use
:meth:`SpeechToText.transcribe_async`, which runs it in a worker thread. Limits
(SEL_STT_MAX_MB, SEL_STT_MAX_SECONDS) are checked before decoding where the size is
known, and enforced on the decoded audio.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.config import VoiceSettings
from sel.errors import InputError, ModelError
from sel.voice import audio
from sel.voice.intake import check_audio_limits

if TYPE_CHECKING:
    import numpy as np
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

# Files a CTranslate2 Whisper model folder must hold.
MODEL_FILES = ("model.bin", "config.json")


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised speech; times in seconds from the start."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What was said: the text, its language, the audio's duration in seconds, and the timed segments."""

    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


def whisper_device(cuda_devices: int) -> tuple[str, str]:
    """(device, compute_type) for faster-whisper: float16 on a GPU when there is one, else int8 on the CPU."""
    return ("cuda", "float16") if cuda_devices > 0 else ("cpu", "int8")


class SpeechToText:
    """A faster-whisper model (STT_MODEL). The model loads on first use (or :meth:`load`), in the calling thread."""

    def __init__(self, settings: VoiceSettings, *, beam_size: int = 1) -> None:
        # Greedy decoding (beam 1) keeps tiny.en at ~0.1 real-time factor on 2 cores with little loss.
        self.settings = settings
        self.model_dir = settings.resolve_stt_model()
        self.beam_size = beam_size
        self._model: WhisperModel | None = None
        # One transcription at a time: CTranslate2 already uses the configured threads.
        self._lock = threading.Lock()

    def load(self) -> WhisperModel:
        """Load the model if not loaded yet; raise ModelError if STT_MODEL does not name a usable model."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> WhisperModel:
        hint = (
            "set STT_MODEL to a model name installed as models/faster-whisper-<name> or to a CTranslate2 "
            "Whisper folder, or run `sel models` for the bundled tiny.en"
        )
        missing = [name for name in MODEL_FILES if not (self.model_dir / name).is_file()]
        if missing:
            raise ModelError(f"STT_MODEL={self.settings.stt_model}: no Whisper model at {self.model_dir}; {hint}")
        import ctranslate2
        from faster_whisper import WhisperModel

        device, compute_type = whisper_device(ctranslate2.get_cuda_device_count())
        try:
            model = WhisperModel(
                str(self.model_dir), device=device, compute_type=compute_type, cpu_threads=self.settings.threads
            )
        except (RuntimeError, ValueError, OSError) as err:
            log.debug("loading Whisper model %s failed: %s", self.model_dir, err)
            raise ModelError(
                f"STT_MODEL={self.settings.stt_model}: {self.model_dir} cannot be loaded; {hint}"
            ) from None
        log.debug("loaded Whisper model %s on %s (%s)", self.model_dir, device, compute_type)
        return model

    def transcribe(self, source: bytes | Path, *, name: str | None = None) -> Transcript:
        """Transcribe audio bytes or a file (any format PyAV decodes, including a video's sound).

        Blocks until done. Raise InputError if the input is over the limits or cannot be
        decoded; ``name`` (e.g. the attachment's file name; default the path or "the audio")
        appears in those messages.
        """
        if isinstance(source, bytes | bytearray | memoryview):
            size = len(source)
            name = name or "the audio"
        else:
            source = Path(source)
            name = name or str(source)
            try:
                size = source.stat().st_size
            except FileNotFoundError:
                raise InputError(f"{source}: file not found; check the path") from None
            except OSError as err:
                raise InputError(
                    f"{source}: cannot be read ({err.strerror}); check the path and its permissions"
                ) from None
        check_audio_limits(size, None, self.settings)
        limit = self.settings.stt_max_seconds
        samples = audio.decode_audio(source, stop_after=limit, name=name)
        # Decoding stopped just past the limit, so the true length is unknown: say "over", not a number.
        if samples.size / audio.WHISPER_RATE > limit:
            raise InputError(
                f"{name} runs over the {limit:g} s limit; send a shorter clip or raise SEL_STT_MAX_SECONDS"
            )
        return self.transcribe_samples(samples)

    def transcribe_samples(
        self, samples: np.ndarray, *, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        """Transcribe float32 mono samples at 16 kHz. Blocks until done.

        ``prompt`` is text Whisper reads as what came before (e.g. "A voice chat with SEL.") and
        ``hotwords`` names it should expect ("SEL"): together they make an unusual name come out
        spelled right ("SEL", not "So" or "Cell") without turning a spoken "so" into it.
        """
        model = self.load()
        with self._lock:
            segments, info = model.transcribe(
                samples, beam_size=self.beam_size, vad_filter=False, initial_prompt=prompt, hotwords=hotwords
            )
            # The segments are a lazy generator: the real work happens while consuming it.
            found = tuple(Segment(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in segments)
        text = " ".join(seg.text for seg in found if seg.text)
        return Transcript(text=text, language=info.language, duration=samples.size / audio.WHISPER_RATE, segments=found)

    async def transcribe_async(self, source: bytes | Path, *, name: str | None = None) -> Transcript:
        """:meth:`transcribe` in a worker thread, so the event loop keeps running.

        Cancelling the awaiting task stops the wait, not the transcription already under way.
        """
        return await asyncio.to_thread(self.transcribe, source, name=name)
