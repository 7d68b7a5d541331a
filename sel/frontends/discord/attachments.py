"""Turning a message's attachments into text the brain can read.

- voice messages and audio/video files: transcribed (limits checked before downloading);
- small text and code files (up to 100 KB): read into the message as a code block;
- images: left to the brain's vision route (it sees their names and types);
- anything else: ignored when the message has text, otherwise refused with a clear reply.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import PurePath

import discord

from sel.app import App
from sel.config import VoiceSettings
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


@dataclass
class AttachmentText:
    """What a message's attachments add: file contents, what SEL heard, and what it could not use."""

    files: str = ""  # text and code files, as code blocks for the prompt
    heard: str = ""  # transcripts of voice messages and audio
    problem: str = ""  # a reason to answer with a refusal instead of a reply
    note: str = ""  # files SEL skipped, to mention above its reply


async def read_attachments(message: discord.Message, text: str, limits: VoiceSettings, app: App) -> AttachmentText:
    """Read what SEL can of the attachments. ``text`` is the message's own words: without any,
    files SEL cannot open are the whole message and get a refusal; with some, SEL answers and
    notes which files it skipped."""
    files: list[str] = []
    heard: list[str] = []
    refused: list[str] = []
    voice_flag = is_voice_message(message.flags.value)
    for attachment in message.attachments:
        name, kind = shown_name(attachment.filename), attachment.content_type
        if voice_flag or is_media_attachment(kind, name):
            try:
                check_audio_limits(attachment.size, attachment.duration, limits)
                data = await attachment.read()
                transcript = await app.transcribe(data, name=name)
            except InputError as err:
                return AttachmentText(problem=f"I couldn't listen to {name}: {err}")
            heard.append(transcript.text.strip())
        elif is_text_file(name, kind):
            if attachment.size > TEXT_FILE_LIMIT:
                size_kb = attachment.size // 1024
                return AttachmentText(
                    problem=f"{name} is too large for me to read ({size_kb} KB; the limit is 100 KB)."
                )
            data = await attachment.read()
            language = PurePath(name).suffix.lstrip(".")
            files.append(f"[file {name}]\n```{language}\n{data.decode('utf-8', errors='replace').strip()}\n```")
        elif not is_image(name, kind):
            refused.append(name)
    skipped = ", ".join(refused)
    if refused and not (text.strip() or files or heard):
        return AttachmentText(
            problem=f"I can't open {skipped}: I read text and code files (up to 100 KB), "
            "voice messages and audio, and I can see that images are there."
        )
    return AttachmentText(
        files="\n".join(files),
        heard=" ".join(h for h in heard if h),
        note=f"(I can't open {skipped}.)" if refused else "",
    )


def shown_name(filename: str) -> str:
    """A file's name as SEL writes it in one line of chat: whitespace collapsed, long names cut."""
    name = " ".join(filename.split()) or "a file without a name"
    return name if len(name) <= MAX_SHOWN_NAME else name[: MAX_SHOWN_NAME - 1] + "…"


MAX_SHOWN_NAME = 100
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"})
IMAGE_LIMIT = 10 * 1024 * 1024


def is_image(filename: str, content_type: str | None) -> bool:
    return (content_type or "").startswith("image/") or PurePath(filename).suffix.lower() in IMAGE_SUFFIXES


async def image_urls(message: discord.Message) -> tuple[str, ...]:
    """Attached pictures (up to 10 MB each) as data: URIs for the vision model."""
    urls = []
    for attachment in message.attachments:
        if is_image(attachment.filename, attachment.content_type) and attachment.size <= IMAGE_LIMIT:
            data = await attachment.read()
            kind = attachment.content_type or f"image/{PurePath(attachment.filename).suffix.lstrip('.').lower()}"
            urls.append(f"data:{kind};base64,{base64.b64encode(data).decode()}")
    return tuple(urls)
