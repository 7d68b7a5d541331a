"""Voice rules that need no model: limits, what counts as audio, WER, framing, waveform, dependency report."""

from __future__ import annotations

import base64
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sel.config import load_settings
from sel.errors import InputError
from sel.frontends.discord.voice_support import FIX_DAVEY, FIX_OPUS, FIX_PYNACL, missing_voice_parts, voice_support
from sel.voice import audio
from sel.voice.intake import check_audio_limits, is_media_attachment, is_voice_message
from sel.voice.stt import whisper_device
from sel.voice.voice_message import waveform_base64
from sel.voice.wer import edit_distance, normalize_words, word_error_rate
from tests.ci_requirements import NO_LIBOPUS, libopus_missing

MB = 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings({"SEL_DATA_DIR": str(tmp_path), "SEL_STT_MAX_MB": "25", "SEL_STT_MAX_SECONDS": "300"})


def test_audio_exactly_at_the_limits_passes_and_one_step_over_does_not(settings) -> None:
    assert check_audio_limits(25 * MB, 300.0, settings) is None, "the limits themselves are allowed"
    assert check_audio_limits(1000, None, settings) is None, "an unknown duration is checked after decoding"
    with pytest.raises(InputError, match="SEL_STT_MAX_MB"):
        check_audio_limits(25 * MB + 1, 300.0, settings)
    with pytest.raises(InputError, match="SEL_STT_MAX_SECONDS"):
        check_audio_limits(25 * MB, 300.01, settings)


def test_oversized_audio_is_refused_naming_the_setting(settings) -> None:
    with pytest.raises(InputError, match=r"26\.0 MB, over the 25 MB limit.*SEL_STT_MAX_MB"):
        check_audio_limits(26 * MB, None, settings)


def test_overlong_audio_is_refused_naming_the_setting(settings) -> None:
    with pytest.raises(InputError, match=r"301 s long, over the 300 s limit.*SEL_STT_MAX_SECONDS"):
        check_audio_limits(1000, 301.0, settings)


def test_limits_follow_the_settings(settings) -> None:
    strict = replace(settings, stt_max_mb=1.0, stt_max_seconds=10.0)
    with pytest.raises(InputError, match="SEL_STT_MAX_MB"):
        check_audio_limits(2 * MB, None, strict)
    with pytest.raises(InputError, match="SEL_STT_MAX_SECONDS"):
        check_audio_limits(1000, 10.5, strict)


def test_limit_messages_are_one_line(settings) -> None:
    with pytest.raises(InputError) as caught:
        check_audio_limits(100 * MB, 9999.0, settings)
    assert "\n" not in str(caught.value)


def test_negative_size_is_a_programming_error(settings) -> None:
    with pytest.raises(ValueError):
        check_audio_limits(-1, None, settings)


def test_voice_message_flag_is_bit_13() -> None:
    assert is_voice_message(8192)
    assert is_voice_message(8192 | 4)
    assert not is_voice_message(4)
    assert not is_voice_message(0)


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [
        ("audio/ogg", "voice-message.ogg"),
        ("audio/mpeg; charset=binary", "song"),
        ("video/mp4", "clip.mp4"),
        ("application/ogg", "x"),
        (None, "memo.M4A"),
        ("application/octet-stream", "note.opus"),
    ],
)
def test_audio_and_video_attachments_are_transcribable(content_type: str | None, filename: str) -> None:
    assert is_media_attachment(content_type, filename)


@pytest.mark.parametrize(
    ("content_type", "filename"), [("image/png", "cat.png"), ("text/plain", "notes.txt"), (None, "archive.zip")]
)
def test_other_attachments_are_not_transcribable(content_type: str | None, filename: str) -> None:
    assert not is_media_attachment(content_type, filename)


def test_normalisation_ignores_case_and_punctuation() -> None:
    assert normalize_words("LOVELY? Well-known, too!") == ["lovely", "well", "known", "too"]


def test_normalisation_spells_out_unambiguous_contractions() -> None:
    assert normalize_words("You're here, I'm not; we won't go, can't stay, isn’t it?") == normalize_words(
        "You are here, I am not; we will not go, can not stay, is not it?"
    )
    assert normalize_words("It's Sam's") == ["its", "sams"], "'s is ambiguous and stays one word"


def test_edit_distance_counts_substitutions_deletions_and_insertions() -> None:
    abc = ["a", "b", "c"]
    assert edit_distance(abc, ["a", "b", "c"]) == 0
    assert edit_distance(abc, ["a", "x", "c"]) == 1
    assert edit_distance(abc, ["a", "c"]) == 1
    assert edit_distance(abc, ["a", "b", "c", "d", "e"]) == 2
    assert edit_distance([], ["a", "b"]) == 2


def test_word_error_rate_pools_errors_over_all_references() -> None:
    pairs = [("the cat sat", "The cat sat."), ("on the warm mat", "on a warm mat")]
    assert word_error_rate(pairs) == pytest.approx(1 / 7)


def test_word_error_rate_needs_reference_words() -> None:
    with pytest.raises(ValueError):
        word_error_rate([("", "something")])


def test_whisper_uses_cuda_only_when_a_gpu_exists() -> None:
    assert whisper_device(0) == ("cpu", "int8")
    assert whisper_device(2) == ("cuda", "float16")


def test_pcm_frames_are_exactly_3840_bytes_with_a_zero_padded_tail() -> None:
    pcm = bytes(range(256)) * 20  # 5120 bytes: one full frame and 1280 bytes over
    frames = audio.pcm_frames(pcm)
    assert [len(f) for f in frames] == [3840, 3840]
    assert frames[0] == pcm[:3840]
    assert frames[1][:1280] == pcm[3840:]
    assert frames[1][1280:] == bytes(2560)
    assert audio.pcm_frames(b"") == []


def test_resampling_keeps_the_duration_exact() -> None:
    tone = (np.sin(np.arange(22050) * 2 * np.pi * 440 / 22050) * 8000).astype(np.int16)
    stereo = audio.resample_int16(tone, 22050, to_rate=48000, channels=2)
    assert stereo.size == 48000 * 2
    left, right = stereo[0::2], stereo[1::2]
    assert np.array_equal(left, right), "mono speech should be copied to both channels"
    # The tone survives: energy comparable to the input, not silence or noise.
    assert 0.5 < np.abs(left).mean() / np.abs(tone).mean() < 1.5


def test_waveform_is_at_most_256_loudness_bytes() -> None:
    quiet_then_loud = np.concatenate([np.zeros(48000, np.int16), np.full(48000, 32767, np.int16)])
    levels = base64.b64decode(waveform_base64(quiet_then_loud, slices=1000))
    assert len(levels) == 256
    assert levels[0] == 0
    assert levels[-1] == 255
    assert len(base64.b64decode(waveform_base64(quiet_then_loud, slices=20))) == 20


def test_missing_voice_parts_each_come_with_their_fix() -> None:
    missing = missing_voice_parts(has_discord=True, has_pynacl=False, has_davey=False, opus_problem="")
    assert missing == [FIX_PYNACL, FIX_DAVEY, FIX_OPUS]
    assert "apt-get install libopus0" in FIX_OPUS
    broken = missing_voice_parts(has_discord=True, has_pynacl=True, has_davey=True, opus_problem="libopus.so.0 broke")
    assert broken == [f"{FIX_OPUS}; libopus.so.0 broke"]
    assert missing_voice_parts(has_discord=True, has_pynacl=True, has_davey=True, opus_problem=None) == []


@pytest.mark.skipif(libopus_missing(), reason=NO_LIBOPUS)
def test_this_machine_has_everything_discord_voice_needs() -> None:
    # CI installs libopus0 (and fails this skip) and discord.py[voice]; a non-empty list names what to install.
    assert voice_support() == []


def test_importing_the_voice_commands_loads_no_heavy_module() -> None:
    heavy = ("numpy", "av", "piper", "faster_whisper", "ctranslate2", "onnxruntime", "discord")
    code = f"import sys, sel.cli.voice; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"`sel --help` would pay for importing {loaded}"


def test_only_words_are_read_aloud() -> None:
    from sel.voice.speakable import speakable

    reply = (
        "-# heard: “what is this”\n**Sure!** Here you go:\n```python\nprint('hi')\n```\n"
        "see [the docs](https://example.com/x) or https://example.com, <@123> ✨ `x = 1` done"
    )
    assert speakable(reply) == "Sure! Here you go: (code) see the docs or (link) ✨ done"
    assert speakable("   ") == "" and speakable("```\ncode only\n```") == "(code)"
    assert speakable("**") == ""
