"""Turning a message's attachments into text the brain can read.

- voice messages and audio/video files: transcribed (limits checked before downloading);
- small text and code files (up to 100 KB): read into the message as a code block;
- images: left to the brain's vision route (it sees their names and types);
- anything else: ignored when the message has text, otherwise refused with a clear reply.
"""

from __future__ import annotations

import base64
import logging
from pathlib import PurePath
from typing import Any

from sel.config import Settings
from sel.errors import InputError
from sel.voice.intake import check_audio_limits, is_media_attachment, is_voice_message

log = logging.getLogger(__name__)

TEXT_FILE_LIMIT = 100 * 1024
TEXT_EXTENSIONS = frozenset(
    [
        ".txt",
        ".md",
        ".rst",
        ".log",
        ".csv",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".xml",
        ".html",
        ".css",
        ".js",
        ".ts",
        ".jsx",
        ".tsx",
        ".py",
        ".rb",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".c",
        ".h",
        ".cpp",
        ".hpp",
        ".cs",
        ".php",
        ".sh",
        ".bash",
        ".sql",
        ".lua",
        ".swift",
        ".r",
        ".m",
        ".scala",
        ".hs",
        ".ex",
        ".exs",
        ".dart",
        ".vue",
    ]
)


def is_text_file(filename: str, content_type: str | None) -> bool:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or PurePath(filename).suffix.lower() in TEXT_EXTENSIONS


async def read_attachments(message: Any, settings: Settings, runtime: Any) -> tuple[str, str, str]:
    """(file text for the prompt, transcript of speech, a problem to tell the user or "")."""
    extra: list[str] = []
    heard: list[str] = []
    refused: list[str] = []
    voice_flag = is_voice_message(message.flags.value)
    for attachment in message.attachments:
        name, kind = attachment.filename, attachment.content_type
        if voice_flag or is_media_attachment(kind, name):
            try:
                check_audio_limits(attachment.size, getattr(attachment, "duration", None), settings)
                data = await attachment.read()
                transcript = await runtime.speech_to_text().transcribe_async(data, name=name)
            except InputError as err:
                return "", "", f"I couldn't listen to {name}: {err}"
            heard.append(transcript.text.strip())
        elif is_text_file(name, kind):
            if attachment.size > TEXT_FILE_LIMIT:
                return (
                    "",
                    "",
                    f"{name} is too large for me to read ({attachment.size // 1024} KB; the limit is 100 KB).",
                )
            data = await attachment.read()
            language = PurePath(name).suffix.lstrip(".")
            extra.append(f"[file {name}]\n```{language}\n{data.decode('utf-8', errors='replace').strip()}\n```")
        elif not is_image(name, kind):
            refused.append(name)
    if refused and not (message.content.strip() or extra or heard):
        return (
            "",
            "",
            (
                f"I can't open {', '.join(refused)}: I read text and code files (up to 100 KB), "
                "voice messages and audio, and I can see that images are there."
            ),
        )
    return "\n".join(extra), " ".join(h for h in heard if h), ""


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"})
IMAGE_LIMIT = 10 * 1024 * 1024


def is_image(filename: str, content_type: str | None) -> bool:
    return (content_type or "").startswith("image/") or PurePath(filename).suffix.lower() in IMAGE_SUFFIXES


async def image_urls(message: Any) -> tuple[str, ...]:
    """Attached pictures (up to 10 MB each) as data: URIs for the vision model."""
    urls = []
    for attachment in message.attachments:
        if is_image(attachment.filename, attachment.content_type) and attachment.size <= IMAGE_LIMIT:
            data = await attachment.read()
            kind = attachment.content_type or f"image/{PurePath(attachment.filename).suffix.lstrip('.').lower()}"
            urls.append(f"data:{kind};base64,{base64.b64encode(data).decode()}")
    return tuple(urls)
