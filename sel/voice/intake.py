"""Which audio SEL accepts for transcription, and the limits it holds it to.

Pure rules over plain values (sizes, durations, flags, content types), so the Discord
frontend can decide before downloading anything and the tests need no Discord objects.
"""

from __future__ import annotations

from pathlib import PurePath

from sel.config import VoiceSettings
from sel.errors import InputError

# Discord's MessageFlags.is_voice_message bit.
VOICE_MESSAGE_FLAG = 1 << 13

BYTES_PER_MB = 1024 * 1024

# Extensions Discord may send without a content type; PyAV decodes all of them.
MEDIA_EXTENSIONS = frozenset(
    {".ogg", ".oga", ".opus", ".mp3", ".wav", ".flac", ".m4a", ".aac", ".webm", ".mp4", ".mov", ".mkv"}
)


def check_audio_limits(size_bytes: int, duration_secs: float | None, settings: VoiceSettings) -> None:
    """Raise InputError if audio of this size (and duration, when known) is over SEL's limits.

    Call it with the attachment's metadata before downloading, and again with the decoded
    duration afterwards: Discord's reported duration is the sender's claim, not a fact.
    """
    if size_bytes < 0:
        raise ValueError(f"size_bytes must not be negative, got {size_bytes}")
    max_bytes = settings.stt_max_mb * BYTES_PER_MB
    if size_bytes > max_bytes:
        raise InputError(
            f"the audio is {size_bytes / BYTES_PER_MB:.1f} MB, over the {settings.stt_max_mb:g} MB limit; "
            "send a shorter clip or raise SEL_STT_MAX_MB"
        )
    if duration_secs is not None and duration_secs > settings.stt_max_seconds:
        raise InputError(
            f"the audio is {duration_secs:.0f} s long, over the {settings.stt_max_seconds:g} s limit; "
            "send a shorter clip or raise SEL_STT_MAX_SECONDS"
        )


def is_voice_message(message_flags: int) -> bool:
    """True if a Discord message's flags mark it as a voice message (ogg/opus with a waveform)."""
    return bool(message_flags & VOICE_MESSAGE_FLAG)


def is_media_attachment(content_type: str | None, filename: str) -> bool:
    """True if an attachment looks like audio or video, by its content type or its file extension."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind.startswith(("audio/", "video/")) or kind == "application/ogg":
        return True
    # Uploads often arrive as application/octet-stream or with no type at all.
    return PurePath(filename).suffix.lower() in MEDIA_EXTENSIONS
