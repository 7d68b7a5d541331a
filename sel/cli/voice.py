"""`sel say` and `sel transcribe`: the voice backends (Piper, faster-whisper) the Discord frontend also uses.

Heavy modules load inside the handlers, so `sel --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sel.config import Settings
from sel.errors import InputError
from sel.undecodable import replace_undecodable

SPEECH_FORMATS = {".wav": "WAV", ".ogg": "ogg/opus", ".opus": "ogg/opus"}
# Piper's time and memory grow with the text (10 000 characters: 74 s and 313 MB); a few minutes of speech is plenty.
MAX_SAY_CHARS = 2000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `say` and `transcribe` subcommands."""
    say = subparsers.add_parser(
        "say",
        help="speak text with the Piper voice (PIPER_MODEL) into a WAV or ogg/opus file",
        description="Speak TEXT with the Piper voice (PIPER_MODEL) and write it to a .wav or .ogg file.",
    )
    say.add_argument(
        "text",
        nargs="+",
        metavar="TEXT",
        help=f"the words to speak, at most {MAX_SAY_CHARS} characters (several arguments are joined)",
    )
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
    text = " ".join(args.text)
    if len(text) > MAX_SAY_CHARS:
        raise InputError(f"the text is {len(text)} characters; `sel say` speaks at most {MAX_SAY_CHARS}, so split it")
    kind = _speech_format(output)
    speech = TextToSpeech.from_settings(settings.voice).synthesize(text)
    try:
        write_atomically(output, speech.wav() if kind == "WAV" else speech.ogg_opus())
    except OSError as err:
        raise InputError(f"cannot write {output} ({err.strerror or err}); choose a writable path with -o") from None
    print(f"wrote {replace_undecodable(str(output))} ({kind}, {speech.duration:.1f} s)")
    return 0


def _speech_format(output: Path) -> str:
    """The format `sel say` writes to ``output`` ("WAV" or "ogg/opus"); InputError if it cannot."""
    kind = SPEECH_FORMATS.get(output.suffix.lower())
    if kind is None:
        raise InputError(f"{output}: unknown audio format; name the output .wav, .ogg or .opus")
    if output.is_dir():
        raise InputError(f"{output} is a folder; give a file to write with -o, e.g. {output}/speech{output.suffix}")
    if not output.parent.is_dir():
        raise InputError(f"{output}: the folder {output.parent} does not exist; create it or write elsewhere")
    return kind


def transcribe_command(args: argparse.Namespace, settings: Settings) -> int:
    """`sel transcribe FILE [--json]`: print what is said in FILE."""
    from sel.voice.stt import SpeechToText

    path: Path = args.file
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give an audio or video file")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file (a device, pipe or socket); give an audio or video file")
    transcript = SpeechToText(settings.voice).transcribe(path)
    if args.json:
        print(json.dumps(transcript.to_dict(), ensure_ascii=False))
    else:
        print(transcript.text)
    return 0
