"""`sel bench voice`, a spoken turn: SEL's own voice-channel path, without Discord's servers.

Piper says a question addressed to SEL; it is encoded to 20 ms opus frames and sealed into RTP
packets exactly as a Discord client sends them (``aead_xchacha20_poly1305_rtpsize``, with a
header extension), then goes through what SEL runs in a voice channel: packet opening
(receive.py), opus decoding, the per-speaker VAD and turn-taking (hearing.py), Whisper, the
brain's decision and streamed reply, sentence chunking and Piper again. Packets are fed at real
time, 20 ms apart, so the turn ends as it would in a call: after SEL_VOICE_END_SILENCE of quiet.

Reported: the word error rate on the received audio, and seconds from the end of speech (the last
packet) to the transcript and to SEL's first opus frame of the answer (what discord.py sends next).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
from typing import TYPE_CHECKING, Any

from sel.domain import IncomingMessage
from sel.frontends.discord.hearing import Hearing
from sel.frontends.discord.listening import TICK_SECONDS
from sel.frontends.discord.receive import open_transport, parse_rtp
from sel.frontends.discord.voice_talk import HEARING_HOTWORDS, HEARING_PROMPT
from sel.voice.audio import OPUS_RATE
from sel.voice.sentences import SentenceChunker
from sel.voice.turns import TurnSettings, Utterance
from sel.voice.wer import word_error_rate

if TYPE_CHECKING:
    from sel.app import App
    from sel.voice.tts import Speech

TURN_TEXT = "SEL, what is the capital of France?"
SPEAKER = 1
OPUS_SILENCE = b"\xf8\xff\xfe"


async def voice_turn_bench(app: App) -> dict[str, Any]:
    """Measure one spoken turn through SEL's receive, hearing, brain and speaking path."""
    question = await app.speak(TURN_TEXT)
    packets, key = await asyncio.to_thread(_packets, question)
    utterance, speech_ended = await _hear(app, packets, key)
    transcript = await app.hear(utterance.pcm, rate=OPUS_RATE, prompt=HEARING_PROMPT, hotwords=HEARING_HOTWORDS)
    heard_at = time.perf_counter()
    first_sentence, addressed = await _first_sentence(app, transcript.text)
    speech = await app.speak(first_sentence)
    await asyncio.to_thread(_first_opus_frame, speech.frames_48k_stereo()[0])
    return {
        "voice_turn_wer": round(word_error_rate([(TURN_TEXT, transcript.text)]), 3),
        "voice_turn_addressed": addressed,
        "end_of_speech_to_transcript_s": round(heard_at - speech_ended, 3),
        "end_of_speech_to_first_audio_s": round(time.perf_counter() - speech_ended, 3),
    }


def _packets(speech: Speech) -> tuple[list[bytes], bytes]:
    """``speech`` as a Discord client's sealed RTP packets, and their key."""
    import discord.opus

    encoder = discord.opus.Encoder()
    frames = [encoder.encode(pcm, encoder.SAMPLES_PER_FRAME) for pcm in speech.frames_48k_stereo()]
    key = secrets.token_bytes(32)
    return [_seal(key, i, frame) for i, frame in enumerate([*frames, *[OPUS_SILENCE] * 5])], key


def _seal(key: bytes, index: int, frame: bytes) -> bytes:
    import nacl.secret

    header = struct.pack(">BBHII", 0x90, 0x78, index & 0xFFFF, index * 960, 7777) + b"\xbe\xde\x00\x01"
    nonce = struct.pack(">I", index) + bytes(20)
    return header + nacl.secret.Aead(key).encrypt(bytes(4) + frame, header, nonce).ciphertext + nonce[:4]


async def _hear(app: App, packets: list[bytes], key: bytes) -> tuple[Utterance, float]:
    """Feed the packets in real time, as discord.py's socket thread would; the turn and when speech ended."""
    loop = asyncio.get_running_loop()
    heard: asyncio.Future[Utterance] = loop.create_future()
    settings = TurnSettings(end_silence=app.settings.voice.voice_end_silence)
    hearing = Hearing(loop, lambda _user: None, lambda _user, turn: _settle(heard, turn), settings=settings)

    def play() -> float:
        start = time.perf_counter()
        for index, data in enumerate(packets):
            packet = parse_rtp(data)
            frame = open_transport(packet, key) if packet is not None else None
            if frame is not None:
                hearing.hear(SPEAKER, frame)
            time.sleep(max(0.0, start + 0.02 * (index + 1) - time.perf_counter()))
        return time.perf_counter()

    playing = asyncio.ensure_future(asyncio.to_thread(play))
    while not heard.done():
        await asyncio.sleep(TICK_SECONDS)
        hearing.tick()
    return heard.result(), await playing


def _settle(future: asyncio.Future[Utterance], turn: Utterance) -> None:
    if not future.done():
        future.set_result(turn)


async def _first_sentence(app: App, text: str) -> tuple[str, bool]:
    """The first sentence of SEL's streamed answer to ``text`` (the rest of the generation is cancelled)."""
    msg = IncomingMessage("bench", "bench", "bench-voice", text, created_at=time.time())
    decision = app.brain.decide(msg)
    chunker = SentenceChunker()
    sentences: list[str] = []
    async with contextlib.aclosing(app.brain.respond(msg, (), decision)) as reply:
        async for chunk in reply:
            if isinstance(chunk, str) and (sentences := chunker.add(chunk)):
                break
    sentences = sentences or chunker.finish() or ["Hmm."]
    return sentences[0], not decision.silent


def _first_opus_frame(pcm: bytes) -> bytes:
    import discord.opus

    return discord.opus.Encoder().encode(pcm, discord.opus.Encoder.SAMPLES_PER_FRAME)
