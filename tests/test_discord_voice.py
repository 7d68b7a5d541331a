"""Voice through Discord: voice messages understood, and SEL speaking in a voice channel,
with real Piper, real faster-whisper and the real discord.py voice client against the stand-in."""

from __future__ import annotations

import asyncio
import ctypes.util

import pytest

from sel.config import load_settings
from sel.voice.tts import TextToSpeech
from sel.voice.voice_message import voice_message_from_text
from tests.discord_fixtures import mention, prefix, replies_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def voice_settings_env(bundled_models_dir) -> dict[str, str]:
    return {
        "SEL_MODELS_DIR": str(bundled_models_dir),
        "PIPER_MODEL": str(bundled_models_dir / "en_US-joe-medium.onnx"),
        "SEL_EMBED_MODEL": str(bundled_models_dir / "all-MiniLM-L6-v2-int8"),
    }


@pytest.fixture(scope="module")
def speech(voice_settings_env) -> TextToSpeech:
    tts = TextToSpeech.from_settings(load_settings(voice_settings_env))
    tts.load()
    return tts


async def test_voice_message_is_transcribed_and_answered(sel_env, standin, speech, voice_settings_env) -> None:
    await sel_env(**voice_settings_env)
    voice = await asyncio.to_thread(voice_message_from_text, speech, "what is your favourite kind of tea")
    dm = standin.dm_channel(standin.alice)
    await standin.send_voice_message(dm.id, standin.alice, voice.ogg, duration_secs=voice.duration_secs)
    msgs = await replies_in(standin, dm.id, timeout=60)
    heard = msgs[0].content.splitlines()[0].lower()
    assert heard.startswith("-# heard:"), msgs[0].content
    assert "favorite kind of tea" in heard or "favourite kind of tea" in heard, heard


async def test_voice_message_over_the_duration_limit_is_refused_before_download(
    sel_env, standin, speech, voice_settings_env
) -> None:
    await sel_env(SEL_STT_MAX_SECONDS="1", **voice_settings_env)
    voice = await asyncio.to_thread(voice_message_from_text, speech, "this message is far too long for the limit")
    dm = standin.dm_channel(standin.bob)
    await standin.send_voice_message(dm.id, standin.bob, voice.ogg, duration_secs=voice.duration_secs)
    msgs = await replies_in(standin, dm.id, timeout=30)
    assert "SEL_STT_MAX_SECONDS" in msgs[0].content or "too long" in msgs[0].content.lower(), msgs[0].content
    assert not [r for r in standin.requests if "/attachments/" in r.path], "the audio was downloaded anyway"


@pytest.mark.skipif(
    ctypes.util.find_library("opus") is None, reason="libopus is not installed (apt-get install libopus0)"
)
async def test_join_say_and_speak_replies_in_a_voice_channel(sel_env, standin, voice_settings_env) -> None:
    bot = await sel_env(SEL_TTS_DEFAULT="1", **voice_settings_env)
    await standin.join_voice(standin.alice, standin.lounge)
    assert "joined lounge" in (await prefix(standin, standin.alice, "!join")).lower()
    assert standin.voice.channel_of(standin.guild.id, bot.user.id) == standin.lounge.id

    queued = clips_queued(bot, standin.guild.id)
    two_sentences = "hello from the voice channel, everyone who is listening. I will say a second sentence now."
    assert "🔊" in await prefix(standin, standin.alice, f"!say {two_sentences}")
    assert len(queued) == 2, "speech is made and queued sentence by sentence, so playback starts after the first"

    def spoken() -> int:
        return sum(len(s.audio_frames) for s in standin.voice.streams.values() if s.user_id == bot.user.id)

    frames = await standin.wait_for(lambda: spoken() >= 50 and spoken(), 30, what="SEL's speech to arrive")
    assert frames >= 50, "about a second of speech is at least 50 frames of 20 ms"

    before = spoken()
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} say something nice")
    await replies_in(standin, standin.general.id, 2, timeout=30)
    await standin.wait_for(lambda: spoken() > before, 30, what="the text reply to be spoken (SEL_TTS_DEFAULT=1)")

    await standin.leave_voice(standin.alice, standin.guild)
    await standin.wait_for(
        lambda: standin.voice.channel_of(standin.guild.id, bot.user.id) is None,
        10,
        what="SEL to leave the empty channel",
    )


def clips_queued(bot, guild_id: int) -> list[object]:
    """Record the clips SEL queues to play in ``guild_id``'s voice channel from now on."""
    queue = bot.voice.queues[guild_id]
    queued: list[object] = []
    put = queue.put

    def recorded(source) -> None:
        queued.append(source)
        put(source)

    queue.put = recorded
    return queued
