"""What a frontend hands the brain: one incoming chat message, free of any Discord types."""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".heic", ".heif", ".tif", ".tiff"})


@dataclass(frozen=True)
class AttachmentInfo:
    """A file attached to a message; the brain looks only at its name, type and size, never its bytes."""

    filename: str
    content_type: str = ""
    size: int = 0

    @property
    def extension(self) -> str:
        """Lower-case extension with the dot (".py"), or "" when the name has none."""
        name = self.filename.lower()
        dot = name.rfind(".")
        return name[dot:] if dot > 0 else ""

    @property
    def is_image(self) -> bool:
        """True for pictures: by MIME type when the sender gave one, else by extension."""
        if self.content_type.lower().startswith("image/"):
            return True
        return self.extension in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a user, as the frontend saw it.

    ``mentioned``, ``is_dm`` and ``reply_to_sel`` are what the frontend knows about
    addressing; the brain adds the "SEL said by name" check itself. ``created_at`` is a
    Unix timestamp (seconds).
    """

    author_id: str
    author_name: str
    channel_id: str
    text: str
    attachments: tuple[AttachmentInfo, ...] = ()
    mentioned: bool = False
    is_dm: bool = False
    reply_to_sel: bool = False
    created_at: float = 0.0
    images: tuple[str, ...] = ()  # data: URIs of attached pictures, when a vision model can look at them
