"""Plain types shared across SEL's layers: what a frontend hands the brain, what the brain
hands an engine, and what the brain decided.

This module imports nothing of sel, so every layer (backends, brain, app, frontends) can
use it without reaching into another layer.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".heic", ".heif", ".tif", ".tiff"})
CUT_NOTE = "(earlier messages of this conversation are not shown)"


# -- incoming messages --------------------------------------------------------------------------


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
    guild_id: str = ""  # the server the message was posted in; "" in a DM or the terminal


# -- prompts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One message of the conversation."""

    speaker: str
    text: str
    from_sel: bool = False
    note: str = ""  # stage direction that preceded an SEL turn (mood/tone only, never memories)


CUT_TURN = Turn("note", CUT_NOTE)


@dataclass(frozen=True)
class Sampling:
    """Sampling the owner set for a mode (sel.toml); None leaves the engine's own setting (`.env`)."""

    temperature: float | None = None
    top_p: float | None = None
    repeat_penalty: float | None = None

    def over(self, *, temperature: float, top_p: float, repeat_penalty: float) -> dict[str, float]:
        """The sampling keyword arguments: these values where set, the given defaults elsewhere."""
        return {
            "temperature": temperature if self.temperature is None else self.temperature,
            "top_p": top_p if self.top_p is None else self.top_p,
            "repeat_penalty": repeat_penalty if self.repeat_penalty is None else self.repeat_penalty,
        }


@dataclass(frozen=True)
class PromptPlan:
    """Everything a reply is generated from, in cache-friendly order."""

    persona: str
    turns: tuple[Turn, ...]
    late_note: str = ""
    sel_name: str = "SEL"
    images: tuple[str, ...] = ()  # data: URIs of pictures in the message being answered (vision slot)
    # Text SEL's reply already begins with (`/sel continue`): the model writes what follows it.
    prefill: str = ""
    sampling: Sampling = Sampling()  # the mode's sampling from sel.toml, over the engine's settings


# -- decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where a message goes and why."""

    intent: str
    confidence: float
    reason: str
    forced: bool = False
    text: str = ""  # the message text with a forcing prefix removed


@dataclass(frozen=True)
class Priority:
    """How much a message deserves a reply, with the reasons."""

    level: str
    score: int
    reason: str
    addressed: bool


@dataclass(frozen=True)
class Decision:
    """What the brain will do with a message, and why."""

    route: Route
    priority: Priority
    silent: bool
    slot: str  # "general" | "coder" | "vision"
    mode: str
    text: str | None = None  # a canned reply that needs no model (vision without a vision model)

    def explain(self) -> str:
        """Two or three lines for `/why` and `!why`."""
        r, p = self.route, self.priority
        forced = ", forced" if r.forced else ""
        lines = [
            f"route: {r.intent} (confidence {r.confidence:.2f}{forced}) — {r.reason}",
            f"priority: {p.level} (score {p.score}) — {p.reason}",
        ]
        if self.silent:
            lines.append(f"reply: none — below the {self.mode} threshold")
        elif self.text is not None:
            lines.append("reply: a canned answer (no model call)")
        else:
            lines.append(f"reply: yes, from the {self.slot} model ({self.mode} mode)")
        return "\n".join(lines)


# -- generation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thought:
    """Reasoning a model wrote before its answer (``<think>…</think>``, ``reasoning_content``).

    Engines yield it beside the reply's text so it is never posted as the reply; a frontend may
    show it collapsed (a spoiler) when the owner asks for that.
    """

    text: str


@dataclass
class GenerationStats:
    """What happened in one generation; the frontends show parts of it (`status`)."""

    slot: str
    model_path: str
    conversation: str
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float = 0.0
    decode_seconds: float = 0.0
    cancelled: bool = False
    tokens_after_cancel: int = 0  # generated after the consumer asked to stop
    restored_snapshot: bool = False
    load_seconds: float = 0.0
    trimmed_turns: int = 0
    finish_reason: str = ""  # "stop", or "length" when the reply hit its token limit

    @property
    def tokens_per_second(self) -> float:
        if self.completion_tokens <= 1 or self.decode_seconds <= 0:
            return 0.0
        # The first token's time is part of time_to_first_token, not of decoding.
        return (self.completion_tokens - 1) / self.decode_seconds
