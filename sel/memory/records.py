"""The memory record and the small result types the store hands back.

A :class:`Memory` is one remembered fact about one user. ``to_json`` / ``from_json``
are the only place its stored shape is defined; ``from_json`` rejects anything malformed
with ``ValueError`` so a damaged record line can be quarantined instead of half-loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

MAX_TEXT_CHARS = 2000
MAX_TAGS = 12
MAX_TAG_CHARS = 40
MAX_USER_ID_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Memory:
    """One fact about one user.

    ``label`` is the memory's row in the vector index; ``version`` grows every time the
    text changes (a near-duplicate or a contradicting fact updates the memory in place).
    ``slot`` names what the fact is about ("home", "name-of:turtle"): a newer fact in the
    same slot replaces the older one.
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
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Memory:
        """Parse the stored form; raise ValueError naming the first bad field."""
        tags = data.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("tags must be a list of strings")
        slot = data.get("slot")
        if slot is not None and not isinstance(slot, str):
            raise ValueError("slot must be a string or null")
        return cls(
            id=_require(data, "id", str),
            user_id=_require(data, "user", str),
            text=_require(data, "text", str),
            tags=tuple(tags),
            hard=_require(data, "hard", bool),
            created_at=float(_require(data, "created_at", (int, float))),
            updated_at=float(_require(data, "updated_at", (int, float))),
            label=_require(data, "label", int),
            version=_require(data, "version", int),
            slot=slot,
        )

    def revised(self, **changes: Any) -> Memory:
        """A copy with ``changes`` applied and the version bumped."""
        return replace(self, version=self.version + 1, **changes)


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    # bool is an int subclass: a label or timestamp of `true` is damage, not data.
    if value is None or not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{key} is missing or not {kind}")
    return value


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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "tags": list(self.tags),
            "hard": self.hard,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class ObserveResult:
    """What observing one message did.

    ``consent_changed`` is True/False when the message gave or withdrew consent, else None.
    ``stored`` holds the memories added or updated. ``reply_hint`` is a short instruction for
    the reply (e.g. acknowledge the opt-in), or "" when there is nothing to say.
    """

    consent_changed: bool | None
    stored: list[Memory] = field(default_factory=list)
    reply_hint: str = ""


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
    control characters are dropped and whitespace is collapsed."""
    text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text
    return " ".join(_CONTROL.sub("", text).split())


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
