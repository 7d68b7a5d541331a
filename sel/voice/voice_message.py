"""A Discord voice-message payload made from speech: ogg/opus bytes, duration and waveform.

Discord voice messages are ogg/opus files whose attachment carries ``duration_secs`` and
``waveform``: base64 of up to 256 bytes, each the loudness (0-255) of one slice of the clip.
SEL uses this to send speech as a voice message; the tests use it to fake a user's one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sel.voice.tts import Speech, TextToSpeech

if TYPE_CHECKING:
    import numpy as np

MAX_WAVEFORM_BYTES = 256
WAVEFORM_SLICES_PER_SECOND = 10  # Discord's own client samples about every 100 ms


@dataclass(frozen=True)
class VoiceMessage:
    """What a voice-message attachment needs: the ogg/opus file, its duration, and its waveform."""

    ogg: bytes
    duration_secs: float
    waveform: str  # base64

    filename: str = "voice-message.ogg"
    content_type: str = "audio/ogg"


def waveform_base64(samples: np.ndarray, slices: int = MAX_WAVEFORM_BYTES) -> str:
    """Peak loudness of int16 ``samples`` in ``slices`` equal parts (at most 256), as base64 bytes.

    Each byte is 0 for silence up to 255 for full scale.
    """
    import numpy as np

    if samples.size == 0:
        return ""
    count = max(1, min(MAX_WAVEFORM_BYTES, slices, samples.size))
    peaks = np.array([np.abs(part.astype(np.int32)).max() for part in np.array_split(samples, count)])
    levels = np.minimum(255, peaks * 255 // 32767).astype(np.uint8)
    return base64.b64encode(levels.tobytes()).decode("ascii")


def voice_message_from_speech(speech: Speech) -> VoiceMessage:
    """Encode speech as a voice message. Blocks (opus encoding)."""
    slices = round(speech.duration * WAVEFORM_SLICES_PER_SECOND)
    return VoiceMessage(
        ogg=speech.ogg_opus(),
        duration_secs=round(speech.duration, 2),
        waveform=waveform_base64(speech.samples, slices),
    )


def voice_message_from_text(tts: TextToSpeech, text: str) -> VoiceMessage:
    """Speak ``text`` with Piper and encode it as a voice message. Blocks (synthesis and encoding)."""
    return voice_message_from_speech(tts.synthesize(text))
