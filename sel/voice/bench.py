"""Voice benchmark: TTS and STT real-time factors, and how fast a voice message becomes a transcript.

A real-time factor is processing time divided by audio duration (0.1 = ten times faster
than real time). Targets on 2 CPU cores with tiny.en int8: TTS <= 0.1, STT <= 0.2.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sel.config import Settings
from sel.voice import audio
from sel.voice.stt import SpeechToText
from sel.voice.tts import Speech, TextToSpeech
from sel.voice.wer import word_error_rate

TTS_TARGET_RTF = 0.1
STT_TARGET_RTF = 0.2
VOICE_MESSAGE_SECONDS = 5.0

BENCH_SENTENCES = (
    "The morning train was late again, so I walked to work along the river.",
    "Could you remind me to water the plants before the weekend?",
    "Fresh bread smells wonderful when it comes out of the oven.",
    "We watched the storm roll in over the hills from the kitchen window.",
)
VOICE_MESSAGE_TEXT = "Hey, are you around tonight? I wanted to ask you about the garden."

FirstToken = Callable[[str], Awaitable[float]]


def run_voice_bench(
    settings: Settings,
    first_token: FirstToken | None = None,
    *,
    tts: TextToSpeech | None = None,
    stt: SpeechToText | None = None,
) -> dict[str, Any]:
    """Run :func:`voice_bench` on a fresh event loop; call it from synchronous code (e.g. `sel bench`)."""
    return asyncio.run(voice_bench(settings, first_token, tts=tts, stt=stt))


async def voice_bench(
    settings: Settings,
    first_token: FirstToken | None = None,
    *,
    tts: TextToSpeech | None = None,
    stt: SpeechToText | None = None,
) -> dict[str, Any]:
    """Measure the voice pipeline; blocking work runs in worker threads.

    ``first_token(transcript_text)`` (optional) is awaited right after the voice message is
    transcribed and should return its own seconds to the reply's first token; the result then
    includes ``voice_message_to_first_token_s``, wall time from the message's bytes arriving to
    that first token. Pass loaded ``tts``/``stt`` to skip (and not report) model loading.
    """
    result: dict[str, Any] = {"threads": settings.threads}
    if tts is None:
        tts = TextToSpeech.from_settings(settings)
        result["tts_load_s"] = await _timed(tts.load)
    if stt is None:
        stt = SpeechToText(settings)
        result["stt_load_s"] = await _timed(stt.load)
    result.update(await asyncio.to_thread(_real_time_factors, tts, stt))

    message = await asyncio.to_thread(_voice_message_bytes, tts)
    started = time.perf_counter()
    transcript = await stt.transcribe_async(message, name="the benchmark voice message")
    result["voice_message_seconds"] = round(transcript.duration, 2)
    result["voice_message_to_transcript_s"] = round(time.perf_counter() - started, 3)
    result["voice_message_wer"] = round(word_error_rate([(VOICE_MESSAGE_TEXT, transcript.text)]), 3)
    if first_token is not None:
        result["first_token_s"] = round(await first_token(transcript.text), 3)
        result["voice_message_to_first_token_s"] = round(time.perf_counter() - started, 3)
    result["tts_target_met"] = result["tts_rtf"] <= TTS_TARGET_RTF
    result["stt_target_met"] = result["stt_rtf"] <= STT_TARGET_RTF
    return result


async def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    await asyncio.to_thread(work)
    return round(time.perf_counter() - started, 3)


def _real_time_factors(tts: TextToSpeech, stt: SpeechToText) -> dict[str, float]:
    # One warm-up each: the first call pays one-off costs (espeak data, ONNX and CTranslate2 allocations).
    warm = tts.synthesize("Warming up.")
    stt.transcribe_samples(audio.whisper_samples(warm.samples, warm.sample_rate))

    speeches: list[Speech] = []
    started = time.perf_counter()
    for sentence in BENCH_SENTENCES:
        speeches.append(tts.synthesize(sentence))
    tts_seconds = time.perf_counter() - started
    spoken = sum(speech.duration for speech in speeches)

    samples = [audio.whisper_samples(speech.samples, speech.sample_rate) for speech in speeches]
    started = time.perf_counter()
    transcripts = [stt.transcribe_samples(s) for s in samples]
    stt_seconds = time.perf_counter() - started
    return {
        "speech_seconds": round(spoken, 2),
        "tts_rtf": round(tts_seconds / spoken, 4),
        "stt_rtf": round(stt_seconds / spoken, 4),
        "round_trip_wer": round(word_error_rate(zip(BENCH_SENTENCES, (t.text for t in transcripts), strict=True)), 3),
    }


def _voice_message_bytes(tts: TextToSpeech) -> bytes:
    """A voice message of exactly VOICE_MESSAGE_SECONDS: the speech, padded with silence or cut."""
    import numpy as np

    speech = tts.synthesize(VOICE_MESSAGE_TEXT)
    length = int(VOICE_MESSAGE_SECONDS * speech.sample_rate)
    samples = np.zeros(length, dtype=np.int16)
    samples[: min(length, speech.samples.size)] = speech.samples[:length]
    return Speech(samples, speech.sample_rate).ogg_opus()
