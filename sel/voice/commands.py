"""The `sel say` and `sel transcribe` subcommands, on the same code paths the Discord frontend uses.

sel/cli.py calls :func:`register` with its subparsers, then ``args.func(args, settings)``.
Heavy modules load inside the handlers, so `sel --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sel.config import Settings
from sel.errors import InputError

SPEECH_FORMATS = {".wav": "WAV", ".ogg": "ogg/opus", ".opus": "ogg/opus"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `say` and `transcribe` subcommands."""
    say = subparsers.add_parser(
        "say",
        help="speak text with the Piper voice (PIPER_MODEL) into a WAV or ogg/opus file",
        description="Speak TEXT with the Piper voice (PIPER_MODEL) and write it to a .wav or .ogg file.",
    )
    say.add_argument("text", nargs="+", metavar="TEXT", help="the words to speak (several arguments are joined)")
    say.add_argument(
        "-o", "--output", required=True, type=Path, help="where to write: .wav, or .ogg/.opus for a voice message"
    )
    say.set_defaults(func=say_command)

    transcribe = subparsers.add_parser(
        "transcribe",
        help="transcribe an audio or video file with faster-whisper (STT_MODEL)",
        description="Transcribe FILE (ogg, opus, mp3, wav, m4a, mp4, ...) with faster-whisper (STT_MODEL).",
    )
    transcribe.add_argument("file", type=Path, metavar="FILE", help="the audio or video file")
    transcribe.add_argument("--json", action="store_true", help="print text, language, duration and segments as JSON")
    transcribe.set_defaults(func=transcribe_command)


def say_command(args: argparse.Namespace, settings: Settings) -> int:
    """`sel say TEXT -o FILE`: synthesize TEXT and write it as WAV or ogg/opus."""
    from sel.voice.audio import write_atomically
    from sel.voice.tts import TextToSpeech

    output: Path = args.output
    kind = SPEECH_FORMATS.get(output.suffix.lower())
    if kind is None:
        raise InputError(f"{output}: unknown audio format; name the output .wav, .ogg or .opus")
    if not output.parent.is_dir():
        raise InputError(f"{output}: the folder {output.parent} does not exist; create it or write elsewhere")
    speech = TextToSpeech.from_settings(settings).synthesize(" ".join(args.text))
    write_atomically(output, speech.wav() if kind == "WAV" else speech.ogg_opus())
    print(f"wrote {output} ({kind}, {speech.duration:.1f} s)")
    return 0


def transcribe_command(args: argparse.Namespace, settings: Settings) -> int:
    """`sel transcribe FILE [--json]`: print what is said in FILE."""
    from sel.voice.stt import SpeechToText

    path: Path = args.file
    if path.is_dir():
        raise InputError(f"{path} is a folder; give an audio or video file")
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    transcript = SpeechToText(settings).transcribe(path)
    if args.json:
        print(json.dumps(transcript.to_dict(), ensure_ascii=False))
    else:
        print(transcript.text)
    return 0
