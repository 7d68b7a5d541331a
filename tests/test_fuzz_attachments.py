"""The attachment intake, fuzzed: any names, types, sizes and bytes give file text, a note or one
clear refusal, never an exception. The message and its attachments are small fakes with discord.py's
attribute names (the real thing needs Discord); files are read from memory, audio is refused up front."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sel.errors import InputError
from sel.frontends.discord.attachments import AttachmentText, is_image, read_attachments, shown_name
from sel.voice.intake import is_media_attachment


@dataclass
class FakeAttachment:
    filename: str
    content_type: str | None
    data: bytes
    size: int
    duration: float | None = None

    async def read(self) -> bytes:
        return self.data


@dataclass
class Flags:
    value: int = 0


@dataclass
class FakeMessage:
    attachments: list[FakeAttachment]
    flags: Flags = field(default_factory=Flags)


class DeafApp:
    """Audio reaches the transcriber only within the limits; it then refuses, as for unreadable audio."""

    async def transcribe(self, data: bytes, *, name: str) -> Any:
        raise InputError(f"{name} is not audio I can decode")


names = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["a.txt", "b.py", "c.ogg", "d.png", "e.xyz", "noext", ".hidden", "x.TXT", "voice-message.ogg"]),
)
types = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["text/plain", "audio/ogg", "image/png", "application/x-unknown", "text/plain; charset=utf-8"]),
)


@st.composite
def attachments(draw: st.DrawFn) -> FakeAttachment:
    data = draw(st.binary(max_size=300))
    # Discord reports sizes and durations as JSON numbers >= 0 (no NaN in JSON).
    size = draw(st.one_of(st.just(len(data)), st.integers(min_value=0, max_value=10**9)))
    duration = draw(st.one_of(st.none(), st.floats(min_value=0, allow_nan=False)))
    return FakeAttachment(draw(names), draw(types), data, size, duration)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(attachments(), max_size=5), text=st.text(max_size=20), voice=st.booleans())
def test_any_attachments_give_text_a_note_or_one_clear_refusal(make_settings, files, text, voice) -> None:
    limits = make_settings().voice
    message = FakeMessage(files, Flags(8192 if voice else 0))
    got = asyncio.run(read_attachments(message, text, limits, DeafApp()))  # type: ignore[arg-type]
    assert isinstance(got, AttachmentText)
    if got.problem:
        assert "\n" not in got.problem and not got.files, got.problem
        return
    for f in files:  # every file SEL does not listen to or look at is read, or named as skipped
        if voice or is_media_attachment(f.content_type, f.filename) or is_image(f.filename, f.content_type):
            continue
        shown = shown_name(f.filename)  # as SEL writes a name in one line of chat
        assert f"[file {shown}]" in got.files or shown in got.note, f"{f.filename!r} vanished"
