"""`sel say` and `sel transcribe` end to end, through the parser the CLI builds, on the real models."""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path

import av
import pytest

from sel.cli.voice import register
from sel.config import Settings, load_settings
from sel.errors import InputError
from sel.voice.wer import word_error_rate

pytestmark = pytest.mark.slow

SAID = "Good evening. Would you like a cup of tea before bed?"


@pytest.fixture(scope="module")
def settings(bundled_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        {
            "SEL_MODELS_DIR": str(bundled_models_dir),
            "SEL_DATA_DIR": str(tmp_path_factory.mktemp("voice-cli-data")),
            "SEL_THREADS": "2",
        }
    )


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args, settings)


def test_say_writes_a_wav_that_transcribe_reads_back(settings: Settings, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tea.wav"
    assert run(settings, "say", SAID, "-o", str(out)) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with wave.open(str(out), "rb") as wav:
        assert wav.getframerate() == 22050
        assert wav.getnframes() > 22050, "a sentence should last more than a second"

    assert run(settings, "transcribe", str(out)) == 0
    heard = capsys.readouterr().out.strip()
    assert word_error_rate([(SAID, heard)]) <= 0.15, f"heard {heard!r}"


def test_say_joins_words_and_writes_ogg_opus(settings: Settings, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tea.ogg"
    assert run(settings, "say", "Good", "evening", "-o", str(out)) == 0
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"

    assert run(settings, "transcribe", str(out), "--json") == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(result) == {"text", "language", "duration", "segments"}
    assert result["language"] == "en"
    assert 0.5 < result["duration"] < 3.0
    assert word_error_rate([("Good evening", result["text"])]) <= 0.5, f"heard {result['text']!r}"


def test_say_refuses_an_unknown_output_format(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unknown audio format.*\.wav, \.ogg or \.opus"):
        run(settings, "say", "hello", "-o", str(tmp_path / "hello.mp3"))


def test_say_refuses_a_missing_output_folder(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        run(settings, "say", "hello", "-o", str(tmp_path / "nowhere" / "hello.wav"))


def test_transcribe_refuses_a_missing_file(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run(settings, "transcribe", str(tmp_path / "missing.ogg"))


def test_transcribe_refuses_a_file_that_is_not_audio(settings: Settings, tmp_path: Path) -> None:
    notes = tmp_path / "notes.ogg"
    notes.write_text("shopping list: milk, eggs\n" * 20)
    with pytest.raises(InputError, match=r"notes\.ogg cannot be decoded as audio"):
        run(settings, "transcribe", str(notes))


def test_transcribing_a_folder_says_it_is_a_folder(tmp_path) -> None:
    from tests.cli_runner import run_sel

    result = run_sel("transcribe", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"sel: error: {tmp_path} is a folder; give an audio or video file"
