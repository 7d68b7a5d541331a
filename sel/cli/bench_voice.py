"""Voice benchmark: TTS and STT real-time factors, how fast a voice message becomes a transcript, and
a spoken turn in a voice channel (see bench_voice_turn.py: end of speech to SEL's first audio, and WER).

A real-time factor is processing time divided by audio duration (0.1 = ten times faster
than real time). Targets on 2 CPU cores with tiny.en int8: TTS <= 0.1, STT <= 0.2.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from sel.config import Settings, VoiceSettings
from sel.domain import IncomingMessage
from sel.voice import audio
from sel.voice.stt import SpeechToText
from sel.voice.tts import Speech, TextToSpeech
from sel.voice.wer import word_error_rate

if TYPE_CHECKING:
    from sel.app import App

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


def run_voice_bench(settings: Settings) -> dict[str, Any]:
    """`sel bench voice`: the voice figures, extended to the first token of SEL's reply to the voice message."""
    return asyncio.run(_voice_bench_with_reply(settings))


async def _voice_bench_with_reply(settings: Settings) -> dict[str, Any]:
    from sel.app import open_app

    app = await asyncio.to_thread(open_app, settings, with_memory=False)
    try:
        await app.warm_up()  # a running bot has its general model loaded and warm
        result = await voice_bench(settings.voice, partial(_first_token, app))
        from sel.cli.bench_voice_turn import voice_turn_bench

        result.update(await voice_turn_bench(app))
        return result
    finally:
        # Only the models are freed, not app.aclose(): the bench leaves SEL's saved mood as it was.
        await asyncio.to_thread(app.engine.close)


async def _first_token(app: App, text: str) -> float:
    """Seconds from SEL deciding on a DM saying ``text`` to the first chunk of its reply."""
    started = time.perf_counter()
    msg = IncomingMessage("bench", "bench", "bench-dm", text, is_dm=True, created_at=time.time())
    decision = app.brain.decide(msg)
    # Closing the reply after its first chunk cancels the rest of the generation.
    async with contextlib.aclosing(app.brain.respond(msg, (), decision)) as reply:
        async for _chunk in reply:
            break
    return time.perf_counter() - started


async def voice_bench(
    settings: VoiceSettings,
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
