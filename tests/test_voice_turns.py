"""Turn-taking and speaking while thinking, piece by piece: turns per speaker, sentences cut from a
streaming reply, opening Discord's RTP packets, the per-speaker VAD, and the listening opt-in."""

from __future__ import annotations

import asyncio
import json
import struct

import numpy as np
import pytest

from sel.config import load_settings
from sel.frontends.discord.receive import open_transport, parse_rtp
from sel.voice.listening_consent import ListeningConsent
from sel.voice.sentences import SentenceChunker
from sel.voice.turns import Segmenter, TurnSettings, Utterance
from sel.voice.vad import RATE, VadStream

CHUNK = 0.02


def feed(turns: Segmenter, pattern: str, start: float = 0.0) -> tuple[list[float], list[Utterance]]:
    """Feed one 20 ms chunk per character ("s" speech, "." silence); when turns started, what ended."""
    started: list[float] = []
    ended: list[Utterance] = []
    for i, mark in enumerate(pattern):
        now = start + i * CHUNK
        began, done = turns.feed(mark.encode(), CHUNK, mark == "s", now)
        if began:
            started.append(now)
        if done is not None:
            ended.append(done)
    return started, ended


# ---- turns ----------------------------------------------------------------------------------------


def test_a_turn_ends_after_the_silence_and_keeps_a_little_audio_from_before_it() -> None:
    turns = Segmenter(TurnSettings(end_silence=0.2, min_speech=0.1, start_speech=0.06, preroll_chunks=2))
    started, ended = feed(turns, "....ssssss.........." + ".")
    assert started == [pytest.approx(0.02 * 6)], "talking is noticed after 3 chunks (60 ms) of speech"
    assert len(ended) == 1
    assert ended[0].pcm.startswith(b"..ssssss."), "two chunks from before the speech are kept"
    assert ended[0].voiced_seconds == pytest.approx(0.12)


def test_a_pause_shorter_than_the_silence_does_not_end_the_turn() -> None:
    turns = Segmenter(TurnSettings(end_silence=0.2, min_speech=0.1))
    _, ended = feed(turns, "sssss.......sssss" + "." * 12)
    assert len(ended) == 1 and ended[0].voiced_seconds == pytest.approx(0.2), "one turn with both bursts"


def test_silence_without_packets_ends_the_turn_on_tick() -> None:
    """Discord clients stop sending when their user is quiet: the clock alone must end the turn."""
    turns = Segmenter(TurnSettings(end_silence=0.5, min_speech=0.1))
    _, ended = feed(turns, "ssssssssss")
    assert ended == [] and turns.active
    assert turns.tick(0.18 + 0.4) is None, "not yet: only 0.4 s of silence"
    done = turns.tick(0.18 + 0.51)
    assert done is not None and not turns.active


def test_a_cough_is_not_a_turn() -> None:
    turns = Segmenter(TurnSettings(end_silence=0.1, min_speech=0.25))
    _, ended = feed(turns, "ss" + "." * 10)
    assert ended == [] and not turns.active


def test_a_monologue_is_cut_at_the_longest_turn() -> None:
    turns = Segmenter(TurnSettings(max_utterance=1.0, min_speech=0.1))
    _, ended = feed(turns, "s" * 120)
    assert len(ended) == 2 and ended[0].seconds == pytest.approx(1.0)


# ---- sentences from a streaming reply -------------------------------------------------------------


def test_the_first_sentence_is_handed_out_as_soon_as_the_next_begins() -> None:
    chunker = SentenceChunker()
    assert chunker.add("The capital of France") == []
    assert chunker.add(" is Paris.") == [], "the sentence may still go on (Paris.com)"
    assert chunker.add(" It") == ["The capital of France is Paris."]
    assert chunker.add(" has bridges.") == []
    assert chunker.finish() == ["It has bridges."]


def test_later_short_sentences_are_joined_and_markup_is_not_read() -> None:
    chunker = SentenceChunker()
    said = chunker.add("**Yes.** Sure. Ok. Here is a longer sentence that stands alone. And ")
    assert said == ["Yes.", "Sure. Ok. Here is a longer sentence that stands alone."]
    assert chunker.finish() == ["And"]


def test_nothing_is_cut_inside_a_code_block() -> None:
    chunker = SentenceChunker()
    assert chunker.add("Try this. ```py\nx = 1. \ny = 2. ") == ["Try this."]
    assert chunker.add("```\n\nDone now. ") == [], "short, so it waits to be joined to what follows"
    assert chunker.finish() == ["(code) Done now."]


# ---- RTP as Discord sends it ------------------------------------------------------------------------


def sealed_packet(key: bytes, frame: bytes, *, extension: bool) -> bytes:
    import nacl.secret

    header = struct.pack(">BBHII", 0x90 if extension else 0x80, 0x78, 7, 960, 5001)
    body = b""
    if extension:
        header += b"\xbe\xde\x00\x01"
        body = b"\x10\x7f\x00\x00"
    nonce = struct.pack(">I", 3) + bytes(20)
    return header + nacl.secret.Aead(key).encrypt(body + frame, header, nonce).ciphertext + nonce[:4]


@pytest.mark.parametrize("extension", [False, True])
def test_rtp_packets_open_to_the_opus_frame(extension: bool) -> None:
    key = bytes(range(32))
    packet = parse_rtp(sealed_packet(key, b"opus frame bytes", extension=extension))
    assert packet is not None and packet.ssrc == 5001 and packet.sequence == 7
    assert open_transport(packet, key) == b"opus frame bytes", "the extension body must be stripped"
    assert open_transport(packet, bytes(32)) is None, "a wrong key opens nothing"


def test_what_is_not_opus_rtp_is_ignored() -> None:
    assert parse_rtp(bytes(8)) is None, "a keep-alive"
    rtcp = bytearray(sealed_packet(bytes(32), b"x" * 20, extension=False))
    rtcp[1] = 0xC9
    assert parse_rtp(bytes(rtcp)) is None


# ---- the VAD ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spoken(bundled_models_dir) -> np.ndarray:
    from sel.voice import audio
    from sel.voice.tts import TextToSpeech

    settings = load_settings({"PIPER_MODEL": str(bundled_models_dir / "en_US-joe-medium.onnx")})
    speech = TextToSpeech.from_settings(settings.voice).synthesize("Hello there, how are you doing today?")
    return audio.whisper_samples(speech.samples, speech.sample_rate)


def test_vad_hears_speech_and_not_silence_or_noise(spoken: np.ndarray) -> None:
    stream = VadStream()
    heard = [stream.accept(spoken[i : i + 320]) for i in range(0, spoken.size - 320, 320)]
    assert sum(heard) > len(heard) * 0.4, f"speech judged speech in only {sum(heard)} of {len(heard)} chunks"
    quiet = VadStream()
    noise = (np.random.default_rng(1).standard_normal(RATE) * 0.01).astype(np.float32)
    assert not any(quiet.accept(noise[i : i + 320]) for i in range(0, RATE, 320)), "faint noise is not speech"


def test_whisper_is_told_to_expect_sels_name(bundled_models_dir) -> None:
    """tiny.en hears a spoken "SEL," as "So," unless told the name; a spoken "so" must stay "so"."""
    import discord.opus

    from sel.frontends.discord.voice_talk import HEARING_HOTWORDS, HEARING_PROMPT
    from sel.voice import audio
    from sel.voice.stt import SpeechToText
    from sel.voice.tts import TextToSpeech

    settings = load_settings(
        {"SEL_MODELS_DIR": str(bundled_models_dir), "PIPER_MODEL": str(bundled_models_dir / "en_US-joe-medium.onnx")}
    )
    tts, stt = TextToSpeech.from_settings(settings.voice), SpeechToText(settings.voice)

    def heard(text: str) -> str:
        encoder, decoder = discord.opus.Encoder(), discord.opus.Decoder()
        frames = tts.synthesize(text).frames_48k_stereo()
        pcm = b"".join(decoder.decode(encoder.encode(f, encoder.SAMPLES_PER_FRAME), fec=False) for f in frames)
        mono = np.frombuffer(pcm, np.int16).reshape(-1, 2).mean(axis=1).astype(np.int16)
        samples = audio.whisper_samples(mono, audio.OPUS_RATE)
        return stt.transcribe_samples(samples, prompt=HEARING_PROMPT, hotwords=HEARING_HOTWORDS).text

    assert heard("SEL, what is the capital of France?").startswith("SEL")
    assert heard("So, what did you do today?").lower().startswith("so")


# ---- the opt-in -------------------------------------------------------------------------------------


def test_listening_opt_in_is_kept_and_withdrawn(tmp_path) -> None:
    consent = ListeningConsent.in_folder(tmp_path)
    assert not consent.allows(42)
    consent.set(42, True)
    assert ListeningConsent.in_folder(tmp_path).allows(42), "the opt-in survives a restart"
    consent.set(42, False)
    assert not ListeningConsent.in_folder(tmp_path).allows(42)
    assert json.loads((tmp_path / "voice_listening.json").read_text()) == {"listen_to": []}


def test_a_damaged_opt_in_file_means_nobody_is_heard(tmp_path) -> None:
    (tmp_path / "voice_listening.json").write_text("{not json")
    assert not ListeningConsent.in_folder(tmp_path).allows(42)


async def test_forget_also_withdraws_being_heard(make_settings) -> None:
    from sel.app import open_app

    app = await asyncio.to_thread(open_app, make_settings())
    try:
        await app.set_listening(42, True)
        assert app.listens_to(42)
        await app.forget("42")
        assert not app.listens_to(42), "`forget` must withdraw the voice opt-in too"
    finally:
        await app.aclose()
