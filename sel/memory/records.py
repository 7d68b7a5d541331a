"""The memory record and the small result types the store hands back.

A :class:`Memory` is one remembered fact about one user. ``to_json`` / ``from_json``
are the only place its stored shape is defined; ``from_json`` rejects anything malformed
with ``ValueError`` so a damaged record line can be quarantined instead of half-loaded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sel.memory.scopes import parse_scope

MAX_TEXT_CHARS = 2000
MAX_IMPORT_BYTES = 50 * 1024 * 1024  # 50 MB, about 300 000 memories: an import file is read whole
MAX_TAGS = 12
MAX_TAG_CHARS = 40
MAX_USER_ID_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Dropped from memory texts too: invisible, and no script needs them (the zero-width joiners that
# emoji and some scripts need are kept).
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")


MAX_HISTORY = 20  # past versions kept per memory; the oldest go first, so a much-corrected fact stays small


@dataclass(frozen=True, slots=True)
class PastVersion:
    """What a memory said before a correction replaced it, and when that was true (said, then replaced)."""

    text: str
    valid_from: float
    valid_to: float

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "valid_from": self.valid_from, "valid_to": self.valid_to}

    @classmethod
    def from_json(cls, data: Any) -> PastVersion:
        """Parse the stored form; ValueError if it is not one."""
        if not isinstance(data, Mapping):
            raise ValueError("a past version is not an object")
        text, start, end = data.get("text"), data.get("valid_from"), data.get("valid_to")
        if start is None or end is None:
            raise ValueError("a past version has no valid_from or valid_to")
        if type(text) is not str or type(start) not in (int, float) or type(end) not in (int, float):
            raise ValueError("a past version field is missing or has the wrong type")
        return cls(text, float(start), float(end))


Kind = Literal["fact", "episode"]
KINDS = ("fact", "episode")


@dataclass(frozen=True, slots=True)
class Memory:
    """One fact about one user, or one of their turns kept as it was said (an episode).

    ``label`` is the memory's row in the vector index; ``version`` grows every time the
    memory changes (a newer fact in its slot updates it in place).
    ``slot`` names what the fact is about ("home", "name-of:turtle"): a newer fact in the
    same slot replaces the older one. ``said_at`` is when the fact was said (the message's time,
    or an import's ``created_at``); None only for records built without it: read it via :attr:`when_said`.
    ``history`` holds what the memory said before corrections, oldest first (at most MAX_HISTORY);
    recall reads only ``text``, but forgetting, expiry and export take the history along.
    ``scope`` is where it may be recalled (see sel.memory.scopes). ``kind`` "episode" is a turn the
    person said, kept whole with its ``channel`` and ``turn`` (order) so recall can add its neighbours.
    """

    id: str
    user_id: str
    text: str
    tags: tuple[str, ...]
    hard: bool
    created_at: float
    updated_at: float
    label: int
    version: int = 1
    slot: str | None = None
    said_at: float | None = None
    history: tuple[PastVersion, ...] = ()
    scope: str = "any"  # where it may come back (sel.memory.scopes); "any" for records from before scopes
    kind: Kind = "fact"
    channel: str | None = None  # an episode's conversation
    turn: int | None = None  # an episode's place among the person's turns in that conversation

    @property
    def when_said(self) -> float:
        """When the fact was said; records from before ``said_at`` existed count their ``created_at``."""
        return self.created_at if self.said_at is None else self.said_at

    def to_json(self) -> dict[str, Any]:
        """The stored form (plain JSON types)."""
        return {
            "id": self.id,
            "user": self.user_id,
            "text": self.text,
            "tags": list(self.tags),
            "hard": self.hard,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "label": self.label,
            "version": self.version,
            "slot": self.slot,
            "said_at": self.when_said,
            "history": [past.to_json() for past in self.history],
            "scope": self.scope,
            "kind": self.kind,
            **({"channel": self.channel, "turn": self.turn} if self.kind == "episode" else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Memory:
        """Parse the stored form; raise ValueError if any field is missing or of the wrong type."""
        # One flat check instead of a helper per field: start-up replays every record through here.
        try:
            memory_id, user_id, text, tags = data["id"], data["user"], data["text"], data["tags"]
            hard, created_at, updated_at = data["hard"], data["created_at"], data["updated_at"]
            label, version, slot = data["label"], data["version"], data.get("slot")
            said_at = data.get("said_at", created_at)  # logs written before the field: when it was stored
            history = data.get("history", [])  # logs written before history was kept: none
            scope, kind = data.get("scope", "any"), data.get("kind", "fact")  # before scopes and episodes: facts, "any"
            channel, turn = data.get("channel"), data.get("turn")
        except (KeyError, TypeError):
            raise ValueError("a memory field is missing") from None
        if not (
            type(memory_id) is str
            and type(user_id) is str
            and type(text) is str
            and type(tags) is list
            and all(type(tag) is str for tag in tags)
            and type(hard) is bool
            and type(created_at) in (int, float)
            and type(updated_at) in (int, float)
            and type(label) is int
            and type(version) is int
            and (slot is None or type(slot) is str)
            and type(said_at) in (int, float)
            and type(history) is list
            and type(scope) is str
            and kind in KINDS
            and (channel is None or type(channel) is str)
            and (turn is None or type(turn) is int)
        ):
            raise ValueError("a memory field has the wrong type")
        return cls(
            memory_id,
            user_id,
            text,
            tuple(tags),
            hard,
            float(created_at),
            float(updated_at),
            label,
            version,
            slot,
            float(said_at),
            history=tuple(PastVersion.from_json(past) for past in history) if history else (),
            scope=parse_scope(scope),
            kind=kind,
            channel=channel,
            turn=turn,
        )

    def revised(self, **changes: Any) -> Memory:
        """A copy with ``changes`` applied and the version bumped."""
        return replace(self, version=self.version + 1, **changes)


@dataclass(frozen=True, slots=True)
class Recalled:
    """A memory returned by recall: ``score`` is the ranking score, ``similarity`` the raw cosine."""

    id: str
    text: str
    score: float
    similarity: float
    tags: tuple[str, ...]
    hard: bool
    created_at: float
    said_at: float | None = None  # when the fact was said (None: not known to the caller that built it)
    kind: Kind = "fact"
    scope: str = "any"
    neighbour_of: str | None = None  # an episode recalled because it came next to this matched one (its id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "tags": list(self.tags),
            "hard": self.hard,
            "created_at": self.created_at,
            "said_at": self.created_at if self.said_at is None else self.said_at,
            "kind": self.kind,
            "scope": self.scope,
            **({"neighbour_of": self.neighbour_of} if self.neighbour_of else {}),
        }


Action = Literal["stored", "updated", "duplicate"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What storing one fact did.

    ``stored``: ``memory`` is a new memory. ``updated``: ``memory`` is an existing memory about
    the same thing (its slot, e.g. where the user lives) that now says something new;
    ``previous_text`` is what it said before. ``duplicate``: ``memory`` already said this
    (see sel.memory.sameness), so nothing new was kept. (What cannot be stored at all is
    refused before it gets here: an InputError, or a RefusedLine of an import.)
    """

    action: Action
    memory: Memory
    previous_text: str = ""

    @property
    def id(self) -> str:
        """The id of the memory stored, updated or duplicated."""
        return self.memory.id


@dataclass(frozen=True, slots=True)
class RefusedLine:
    """An import line that was not imported, and why."""

    number: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: ``lines`` non-blank lines read, one outcome per imported line, the refused lines."""

    lines: int
    outcomes: tuple[Outcome, ...]
    refused: tuple[RefusedLine, ...] = ()

    def count(self, action: Action) -> int:
        """How many imported lines had this outcome."""
        return sum(1 for outcome in self.outcomes if outcome.action == action)


@dataclass(frozen=True, slots=True)
class ObserveResult:
    """What observing one message did.

    ``consent_changed`` is True/False when the message gave or withdrew consent, else None.
    ``outcomes`` says, per fact found in the message (and for the turn kept as an episode), whether it
    was stored, updated an older memory or was one already kept. ``reply_hint`` is a short instruction
    for the reply (e.g. acknowledge the opt-in, or say truthfully what was remembered), or "" when
    there is nothing to say. ``forgotten`` is True when the user asked to be forgotten and everything about them
    was deleted; ``forgotten_one`` holds the texts of single memories the user asked to be
    forgotten ("forget that my cat is Tom") and that were deleted.
    """

    consent_changed: bool | None
    outcomes: list[Outcome] = field(default_factory=list)
    reply_hint: str = ""
    forgotten: bool = False
    forgotten_one: tuple[str, ...] = ()

    @property
    def stored(self) -> list[Memory]:
        """The memories this message added or updated (not the ones it merely repeated)."""
        return [o.memory for o in self.outcomes if o.action in ("stored", "updated")]


@dataclass(frozen=True, slots=True)
class UserRecords:
    """Everything stored about one user, read at one moment: what an export or a memory map is made from.

    ``consented_at`` is None without consent; ``memories`` are oldest first and include expired
    soft memories the pruner has not deleted yet; ``profiles`` is a copy (kind -> data).
    """

    user_id: str
    consented_at: float | None
    last_seen: float | None
    memories: tuple[Memory, ...]
    profiles: dict[str, dict[str, Any]]


def normalize_tags(tags: Any) -> tuple[str, ...]:
    """Lower-case, trimmed, de-duplicated tags in their first-seen order, capped in count and length."""
    out: list[str] = []
    for tag in tags:
        cleaned = " ".join(str(tag).split()).lower()[:MAX_TAG_CHARS]
        if cleaned and cleaned not in out:
            out.append(cleaned)
        if len(out) == MAX_TAGS:
            break
    return tuple(out)


def clean_text(text: str) -> str:
    """Text that can be embedded and stored: lone surrogates (from undecodable bytes) become U+FFFD,
    control characters and zero-width spaces are dropped and whitespace is collapsed."""
    text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text
    return " ".join(_ZERO_WIDTH.sub("", _CONTROL.sub("", text)).split())


def is_visible(text: str) -> bool:
    """Whether ``text`` shows anything: not only whitespace and invisible format characters (joiners, marks)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def valid_user_id(user_id: str) -> bool:
    """Whether ``user_id`` can be stored: non-empty, printable, valid UTF-8, not absurdly long."""
    return (
        isinstance(user_id, str)
        and 0 < len(user_id) <= MAX_USER_ID_CHARS
        and user_id.strip() == user_id
        and not _CONTROL.search(user_id)
        and not _has_surrogates(user_id)
    )


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
