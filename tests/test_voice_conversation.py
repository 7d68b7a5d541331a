"""Talking with SEL in a voice channel, end to end: people's speech (Piper -> opus -> encrypted RTP,
from the stand-in's voice server) is received by SEL's real discord.py voice client, cut into turns
by the Silero VAD, transcribed by real faster-whisper tiny.en, decided on by the brain, and answered
in text and in speech (Piper -> discord.py's player -> RTP back to the stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes.util
from collections.abc import AsyncIterator

import pytest

from sel.config import load_settings
from sel.voice.tts import TextToSpeech
from tests.discord_fixtures import mention, prefix
from tests.gguf_scripted import write_scripted_llama

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        ctypes.util.find_library("opus") is None, reason="libopus is not installed (apt-get install libopus0)"
    ),
]

ANSWER = ["The capital", " of France", " is Paris.", " It is", " a city", " of bridges", " and bread."]
ADDRESSED = "Hey SEL, what is the capital of France?"
CHATTER = "Did you watch the football game last night?"


@pytest.fixture(scope="module")
def voice_env(bundled_models_dir, tmp_path_factory) -> dict[str, str]:
    scripted = write_scripted_llama(tmp_path_factory.mktemp("scripted") / "paris.gguf", ANSWER, name="paris")
    return {
        "SEL_MODELS_DIR": str(bundled_models_dir),
        "PIPER_MODEL": str(bundled_models_dir / "en_US-joe-medium.onnx"),
        "SEL_EMBED_MODEL": str(bundled_models_dir / "all-MiniLM-L6-v2-int8"),
        "SEL_GENERAL_MODEL": str(scripted),
        "SEL_TEMPERATURE": "0",
        "SEL_MAX_NEW_TOKENS": "32",
    }


@pytest.fixture(scope="module")
def piper(voice_env) -> TextToSpeech:
    tts = TextToSpeech.from_settings(load_settings(voice_env).voice)
    tts.load()
    return tts


def opus_frames(tts: TextToSpeech, text: str) -> list[bytes]:
    """``text`` spoken by Piper, as the 20 ms opus frames a Discord client would send."""
    import discord.opus

    encoder = discord.opus.Encoder()
    return [encoder.encode(frame, encoder.SAMPLES_PER_FRAME) for frame in tts.synthesize(text).frames_48k_stereo()]


async def in_voice_with(sel_env, standin, voice_env, *people) -> object:
    """SEL joined to the lounge with ``people``, each of whom opted in to being heard."""
    bot = await sel_env(**voice_env)
    for person in people:
        await standin.join_voice(person, standin.lounge)
        assert "listen to you" in (await prefix(standin, person, "!listen on")).lower()
    joined = await prefix(standin, standin.alice, "!join")
    assert "listening" in joined.lower() and "listen on" in joined, f"no announcement that SEL listens: {joined}"
    await standin.wait_for(lambda: standin.voice._udp_peers, 10, what="SEL's voice connection")
    return bot


def sel_frames(standin, bot) -> list[float]:
    """Arrival times of every audio frame SEL has sent in voice."""
    return sorted(t for s in standin.voice.streams.values() if s.user_id == bot.user.id for t in s.arrived)


async def test_sel_answers_who_addressed_it_and_ignores_chatter(sel_env, standin, voice_env, piper) -> None:
    bot = await in_voice_with(sel_env, standin, voice_env, standin.alice, standin.bob)
    talk = bot.voice.listening[standin.guild.id].talk
    general = standin.general.id
    before = len(standin.bot_messages(general))

    await standin.voice.speak_as(standin.bob, standin.guild.id, await asyncio.to_thread(opus_frames, piper, CHATTER))
    await standin.wait_for(lambda: talk.transcribed >= 1, 60, what="bob's chatter to be transcribed")
    await asyncio.sleep(1.0)  # were SEL going to answer, its reply would have started by now
    assert standin.bot_messages(general)[before:] == [], "SEL answered chatter between others"
    assert sel_frames(standin, bot) == [], "SEL spoke after chatter that was not for it"

    await standin.voice.speak_as(
        standin.alice, standin.guild.id, await asyncio.to_thread(opus_frames, piper, ADDRESSED)
    )
    await standin.wait_for(lambda: talk.transcribed >= 2, 60, what="alice to be transcribed")
    await standin.wait_for(lambda: talk.transcribed >= 2, 60, what="alice's question to be transcribed")
    heard_turns = [turn.text for turn in talk.history]
    reply = await standin.wait_for(
        lambda: [m for m in standin.bot_messages(general)[before:] if "Paris" in m.content and "⏳" not in m.content],
        90,
        what=f"SEL's written answer to alice (it heard {heard_turns})",
    )
    heard = reply[0].content.splitlines()[0].lower()
    assert heard.startswith("-# heard alice:") and "capital of france" in heard, reply[0].content
    await standin.wait_for(lambda: len(sel_frames(standin, bot)) > 50, 60, what="SEL's spoken answer")


async def test_a_person_who_did_not_opt_in_is_never_transcribed(sel_env, standin, voice_env, piper) -> None:
    bot = await in_voice_with(sel_env, standin, voice_env, standin.alice)
    await standin.join_voice(standin.bob, standin.lounge)  # in the channel, but never said `listen on`
    client = bot.voice.listening[standin.guild.id].client
    talk = bot.voice.listening[standin.guild.id].talk

    await standin.voice.speak_as(standin.bob, standin.guild.id, await asyncio.to_thread(opus_frames, piper, ADDRESSED))
    await asyncio.sleep(1.5)  # longer than the silence that ends a turn
    assert talk.transcribed == 0, "bob did not opt in, yet his speech was transcribed"
    assert client.dropped >= 50, f"bob's packets should be dropped unopened; {client.dropped} were"
    assert standin.bot_messages(standin.general.id)[-1].content.startswith("Joined"), "SEL answered bob"


@contextlib.asynccontextmanager
async def generation_gate(bot, after: str) -> AsyncIterator[asyncio.Event]:
    """Holds SEL's real generation right after the chunk that ends with ``after`` until the event is set."""
    engine = bot.app.engine
    original = engine.stream
    gate = asyncio.Event()

    async def gated(*args, **kwargs):
        async with contextlib.aclosing(original(*args, **kwargs)) as chunks:
            async for chunk in chunks:
                yield chunk
                if chunk.endswith(after):
                    await gate.wait()

    engine.stream = gated
    try:
        yield gate
    finally:
        gate.set()
        engine.stream = original


async def test_first_audio_comes_while_the_reply_is_still_being_written(sel_env, standin, voice_env, piper) -> None:
    bot = await in_voice_with(sel_env, standin, voice_env, standin.alice)
    # A sentence is known to be complete when the next one starts: hold the generation there.
    async with generation_gate(bot, " It is") as gate:
        await standin.voice.speak_as(
            standin.alice, standin.guild.id, await asyncio.to_thread(opus_frames, piper, ADDRESSED)
        )
        # Generation waits after the first sentence: audio can only come if it is spoken sentence by sentence.
        await standin.wait_for(lambda: sel_frames(standin, bot), 90, what="SEL's first audio before its reply ends")
        assert not any("bread" in m.content for m in standin.bot_messages(standin.general.id))
        gate.set()
    await standin.wait_for(
        lambda: any("bread" in m.content and "⏳" not in m.content for m in standin.bot_messages(standin.general.id)),
        60,
        what="the rest of the reply",
    )


async def test_sel_stops_speaking_when_someone_talks_over_it(sel_env, standin, voice_env, piper) -> None:
    bot = await in_voice_with(sel_env, standin, voice_env, standin.alice)
    listening = bot.voice.listening[standin.guild.id]
    long_text = " ".join(["This is a long announcement that goes on and on for quite a while."] * 4)
    assert "🔊" in await prefix(standin, standin.alice, f"!say {long_text}")
    await standin.wait_for(lambda: len(sel_frames(standin, bot)) > 25, 60, what="SEL to start speaking")

    await standin.voice.speak_as(standin.alice, standin.guild.id, await asyncio.to_thread(opus_frames, piper, "Wait."))
    await standin.wait_for(lambda: listening.barge_ins, 30, what="a barge-in")
    stopped_at = len(sel_frames(standin, bot))
    await asyncio.sleep(1.0)
    # discord.py sends five silence frames when playback stops; nothing of the speech after that.
    assert len(sel_frames(standin, bot)) <= stopped_at + 5, "SEL went on speaking over alice"
    assert not listening.client.is_playing()


async def test_a_typed_reply_is_spoken_while_it_is_being_written(sel_env, standin, voice_env) -> None:
    bot = await sel_env(SEL_TTS_DEFAULT="1", **voice_env)
    await standin.join_voice(standin.alice, standin.lounge)
    await prefix(standin, standin.alice, "!join")
    await standin.wait_for(lambda: standin.voice._udp_peers, 10, what="SEL's voice connection")
    async with generation_gate(bot, " It is") as gate:
        await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} what is the capital of France?")
        await standin.wait_for(lambda: sel_frames(standin, bot), 90, what="SEL's voice before its text reply ends")
        assert not any("bread" in m.content for m in standin.bot_messages(standin.general.id))
        gate.set()
