"""Real Piper and real faster-whisper: speech made by one is understood by the other, in every format SEL handles."""

from __future__ import annotations

import asyncio
import base64
import io
import math
import wave
from dataclasses import replace
from pathlib import Path

import av
import discord
import numpy as np
import pytest

from sel.cli.bench_voice import voice_bench
from sel.config import Settings, load_settings
from sel.errors import InputError, ModelError
from sel.frontends.discord.speech_source import SpeechSource
from sel.voice import audio
from sel.voice.stt import SpeechToText, Transcript
from sel.voice.tts import Speech, TextToSpeech
from sel.voice.voice_message import voice_message_from_text
from sel.voice.wer import word_error_rate
from tests.ci_requirements import NO_LIBOPUS, libopus_missing

pytestmark = pytest.mark.slow

# Varied lengths, questions and exclamations; no names or numerals, which Whisper spells its own way.
SENTENCES = (
    "The weather is lovely today, isn't it?",
    "Please remember to buy milk and eggs on your way home.",
    "I have been reading a wonderful book about the ocean.",
    "Could you tell me where the nearest library is?",
    "My cat likes to sleep in the sun all afternoon.",
    "We should leave early tomorrow morning to avoid the traffic.",
    "That was the best soup I have ever tasted!",
    "Learning a new language takes patience and practice.",
    "The children played in the park until it got dark.",
    "Do you want to watch a movie tonight?",
    "She planted tomatoes and beans in the small garden behind the house.",
    "Thank you so much for helping me move last weekend.",
)
MAX_WER = 0.15
# Piper samples noise on every call, so the same text sounds a little different each run. "whether" came
# back as "what are" in 1 of 25 runs; this sentence was heard right in 40 of 40.
LOOP_SENTENCE = "The loop keeps running while I talk to you about the garden."


@pytest.fixture(scope="module")
def settings(bundled_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        {
            "SEL_MODELS_DIR": str(bundled_models_dir),
            "SEL_DATA_DIR": str(tmp_path_factory.mktemp("voice-data")),
            "SEL_THREADS": "2",
        }
    )


@pytest.fixture(scope="module")
def tts(settings: Settings) -> TextToSpeech:
    voice = TextToSpeech.from_settings(settings)
    voice.load()
    return voice


@pytest.fixture(scope="module")
def stt(settings: Settings) -> SpeechToText:
    model = SpeechToText(settings)
    model.load()
    return model


@pytest.fixture(scope="module")
def hello(tts: TextToSpeech) -> Speech:
    return tts.synthesize("Hello there. I hope you are having a good day.")


def assert_heard(said: str, transcript: Transcript, max_wer: float = MAX_WER) -> None:
    wer = word_error_rate([(said, transcript.text)])
    assert wer <= max_wer, f"said {said!r}, heard {transcript.text!r} (WER {wer:.0%})"


def test_tts_to_stt_round_trip_keeps_word_error_rate_low(tts: TextToSpeech, stt: SpeechToText) -> None:
    heard = []
    for sentence in SENTENCES:
        speech = tts.synthesize(sentence)
        heard.append(stt.transcribe(speech.wav(), name="round trip").text)
    wer = word_error_rate(zip(SENTENCES, heard, strict=True))
    report = "\n".join(f"  said {s!r}\n  heard {h!r}" for s, h in zip(SENTENCES, heard, strict=True))
    assert wer <= MAX_WER, f"round-trip WER {wer:.1%} is over {MAX_WER:.0%}:\n{report}"


def test_transcript_carries_language_duration_and_segments(stt: SpeechToText, hello: Speech) -> None:
    transcript = stt.transcribe(hello.wav())
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(hello.duration, abs=0.01)
    assert transcript.segments, "speech should give at least one segment"
    assert transcript.text == " ".join(seg.text for seg in transcript.segments)
    assert all(0 <= seg.start <= seg.end <= transcript.duration + 0.5 for seg in transcript.segments)
    assert transcript.to_dict()["segments"][0]["text"] == transcript.segments[0].text


def test_synthesized_speech_is_int16_mono_at_the_voice_rate(tts: TextToSpeech, hello: Speech) -> None:
    assert hello.sample_rate == tts.sample_rate == 22050
    assert hello.samples.dtype == np.int16
    assert hello.samples.ndim == 1
    assert 2.0 < hello.duration < 6.0
    assert np.abs(hello.samples).max() > 3000, "the speech should not be near-silent"


def test_voice_message_is_ogg_opus_that_transcribes(tts: TextToSpeech, stt: SpeechToText) -> None:
    said = "Are you free for lunch tomorrow? I found a nice new place near the station."
    message = voice_message_from_text(tts, said)
    assert message.ogg.startswith(b"OggS")
    with av.open(io.BytesIO(message.ogg)) as container:
        assert container.format.name == "ogg"
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        assert stream.rate == 48000
    levels = base64.b64decode(message.waveform)
    assert 0 < len(levels) <= 256
    assert max(levels) > 64, "the waveform should show the speech"
    transcript = stt.transcribe(message.ogg, name="voice-message.ogg")
    assert transcript.duration == pytest.approx(message.duration_secs, abs=0.05)
    assert_heard(said, transcript)


def test_video_attachment_sound_track_transcribes(stt: SpeechToText, hello: Speech) -> None:
    video = make_mp4(hello)
    transcript = stt.transcribe(video, name="clip.mp4")
    assert_heard("Hello there. I hope you are having a good day.", transcript)


def test_video_without_sound_is_refused(stt: SpeechToText) -> None:
    with pytest.raises(InputError, match=r"clip\.mp4 has no audio track"):
        stt.transcribe(make_mp4(None), name="clip.mp4")


@pytest.mark.parametrize(
    "junk",
    [b"", b"this is a text file, not audio\n" * 50, bytes(range(256)) * 40, b"OggS" + b"\x00" * 500],
    ids=["empty", "text", "noise-bytes", "fake-ogg-header"],
)
def test_undecodable_input_is_a_one_line_input_error(stt: SpeechToText, junk: bytes) -> None:
    with pytest.raises(InputError) as caught:
        stt.transcribe(junk, name="upload.ogg")
    message = str(caught.value)
    assert message.startswith("upload.ogg"), message
    assert "\n" not in message


def test_missing_file_is_an_input_error(stt: SpeechToText, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        stt.transcribe(tmp_path / "nope.ogg")


def test_duration_limit_is_enforced_after_decoding(settings: Settings, stt: SpeechToText, hello: Speech) -> None:
    strict = SpeechToText(replace(settings, stt_max_seconds=1.0))
    strict._model = stt.load()  # share the loaded model; only the limits differ
    with pytest.raises(InputError, match=r"runs over the 1 s limit.*SEL_STT_MAX_SECONDS"):
        strict.transcribe(hello.ogg_opus())


def test_size_limit_is_enforced_before_decoding(settings: Settings, stt: SpeechToText, hello: Speech) -> None:
    strict = SpeechToText(replace(settings, stt_max_mb=0.1))
    strict._model = stt.load()
    wav = hello.wav()
    assert len(wav) > 0.1 * 1024 * 1024
    with pytest.raises(InputError, match="SEL_STT_MAX_MB"):
        strict.transcribe(wav)


def test_speech_source_plays_exact_20ms_frames_covering_the_clip(hello: Speech) -> None:
    source = SpeechSource.from_speech(hello)
    assert isinstance(source, discord.AudioSource)
    assert source.is_opus() is False
    frames = []
    while frame := source.read():
        frames.append(frame)
    assert source.read() == b"", "the source should stay finished"
    assert {len(f) for f in frames} == {3840}
    assert len(frames) == math.ceil(hello.duration / 0.020)
    assert len(frames) * 0.020 - hello.duration < 0.020


def test_speech_source_frames_still_carry_the_words(hello: Speech, stt: SpeechToText) -> None:
    pcm = np.frombuffer(b"".join(hello.frames_48k_stereo()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(pcm[:, 0], pcm[:, 1])
    mono16k = audio.whisper_samples(np.ascontiguousarray(pcm[:, 0]), 48000)
    assert_heard("Hello there. I hope you are having a good day.", stt.transcribe_samples(mono16k))


@pytest.mark.skipif(libopus_missing(), reason=NO_LIBOPUS)
def test_speech_source_frames_survive_discords_opus_encoder(hello: Speech, stt: SpeechToText) -> None:
    # discord.py encodes each PCM frame with libopus before sending it; run that same encoder here.
    from discord.opus import Decoder, Encoder

    assert Encoder.FRAME_SIZE == audio.FRAME_BYTES
    encoder, decoder = Encoder(), Decoder()
    source = SpeechSource.from_speech(hello)
    decoded = []
    while frame := source.read():
        decoded.append(decoder.decode(encoder.encode(frame, Encoder.SAMPLES_PER_FRAME)))
    pcm = np.frombuffer(b"".join(decoded), dtype="<i2").reshape(-1, 2)
    mono16k = audio.whisper_samples(np.ascontiguousarray(pcm[:, 0]), 48000)
    assert_heard("Hello there. I hope you are having a good day.", stt.transcribe_samples(mono16k))


def test_speech_source_refuses_wrongly_sized_frames() -> None:
    with pytest.raises(ValueError, match="3840"):
        SpeechSource([bytes(3840), bytes(100)])


def test_wav_file_is_written_atomically_and_readable(hello: Speech, tmp_path: Path) -> None:
    path = tmp_path / "hello.wav"
    hello.write_wav(path)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() == hello.samples.size
    assert [p.name for p in tmp_path.iterdir()] == ["hello.wav"], "no temp file should be left behind"


def test_empty_text_is_an_input_error(tts: TextToSpeech) -> None:
    with pytest.raises(InputError, match="nothing to say"):
        tts.synthesize("   ")


def test_missing_piper_voice_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"PIPER_MODEL.*not found"):
        TextToSpeech(tmp_path / "missing.onnx").synthesize("hello")


def test_corrupt_piper_voice_is_a_model_error(tmp_path: Path, settings: Settings) -> None:
    onnx = tmp_path / "bad.onnx"
    onnx.write_bytes(b"not an onnx model")
    Path(f"{onnx}.json").write_bytes(Path(f"{settings.piper_model}.json").read_bytes())
    with pytest.raises(ModelError, match="not a usable Piper voice"):
        TextToSpeech(onnx).load()


def test_missing_whisper_model_is_a_model_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"STT_MODEL=.*no Whisper model"):
        SpeechToText(replace(settings, stt_model=str(tmp_path))).load()


async def test_async_wrappers_keep_the_event_loop_free(tts: TextToSpeech, stt: SpeechToText) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        speech = await tts.speak(LOOP_SENTENCE)
        after_tts = ticks
        transcript = await stt.transcribe_async(speech.ogg_opus())
    finally:
        task.cancel()
    assert after_tts > 0, "the loop stalled during synthesis"
    assert ticks > after_tts, "the loop stalled during transcription"
    assert_heard(LOOP_SENTENCE, transcript)


async def test_voice_bench_reports_rates_and_latency(settings: Settings, tts: TextToSpeech, stt: SpeechToText) -> None:
    async def first_token(text: str) -> float:
        assert text, "the benchmark should hand over the transcript"
        await asyncio.sleep(0.05)
        return 0.05

    result = await voice_bench(settings.voice, first_token, tts=tts, stt=stt)
    assert result["voice_message_seconds"] == pytest.approx(5.0, abs=0.05)
    for key in ("tts_rtf", "stt_rtf", "voice_message_to_transcript_s"):
        assert result[key] > 0, f"{key} should be a measured time, got {result[key]}"
    assert result["voice_message_to_first_token_s"] >= result["voice_message_to_transcript_s"] + 0.05
    assert result["round_trip_wer"] <= MAX_WER
    assert "tts_load_s" not in result, "preloaded models should not be reported as loading"


def make_mp4(speech: Speech | None) -> bytes:
    """A tiny mp4: a few black video frames, plus the speech as AAC when given."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=speech.sample_rate, layout="mono") if speech else None
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if speech is not None and sound is not None:
            frame = av.AudioFrame.from_ndarray(speech.samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = speech.sample_rate
            container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return out.getvalue()
