"""The bulk import format: JSON lines, one memory per line.

Each line is an object with ``text`` (required) and optional ``tags`` (list of strings,
or one comma-separated string), ``hard`` (true/false) and ``created_at`` (Unix seconds
or an ISO 8601 date-time). The whole file is checked before anything is stored, so a
bad line stops the import with its line number and nothing is half-imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sel.errors import InputError
from sel.memory.extraction import is_secret
from sel.memory.records import MAX_TEXT_CHARS, clean_text, normalize_tags

FIELDS = frozenset({"text", "tags", "hard", "created_at"})


@dataclass(frozen=True, slots=True)
class ImportItem:
    """One memory to import."""

    text: str
    tags: tuple[str, ...]
    hard: bool
    created_at: float | None


def read_import_file(path: Path) -> list[ImportItem]:
    """Every memory in ``path``; InputError naming the first bad line (nothing is imported then)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; give the path of a .jsonl file with one memory per line") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror}); check the path and its permissions") from None
    items: list[ImportItem] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            items.append(parse_line(raw))
        except ValueError as err:
            raise InputError(
                f"{path} line {number}: {err}; fix that line and run the import again (nothing was imported)"
            ) from None
    return items


def parse_line(raw: bytes) -> ImportItem:
    """One import line; ValueError says what is wrong with it."""
    try:
        obj: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError('not valid JSON (expected an object like {"text": "..."})') from None
    if not isinstance(obj, dict):
        raise ValueError('not a JSON object (expected {"text": "..."})')
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (allowed: text, tags, hard, created_at)")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"text" is missing or empty')
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f'"text" is longer than {MAX_TEXT_CHARS} characters')
    if is_secret(text):
        raise ValueError('"text" looks like a password, PIN, card number or key, which SEL never stores')
    hard = obj.get("hard", False)
    if not isinstance(hard, bool):
        raise ValueError('"hard" must be true or false')
    return ImportItem(clean_text(text), _tags(obj.get("tags", [])), hard, _timestamp(obj.get("created_at")))


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return normalize_tags(value.split(","))
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return normalize_tags(value)
    raise ValueError('"tags" must be a list of strings or a comma-separated string')


EARLIEST = 946_684_800.0  # 2000-01-01: older dates are typos (or milliseconds read as seconds)
CLOCK_SKEW = 24 * 3600.0


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _plausible(float(value))
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f'"created_at" {value!r} is not a date-time (use 2024-05-01T12:00:00)') from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return _plausible(moment.timestamp())
    raise ValueError('"created_at" must be Unix seconds or an ISO 8601 date-time')


def _plausible(seconds: float) -> float:
    """A creation time between 2000 and now (a day of clock skew allowed): others would skew recall."""
    if not EARLIEST <= seconds <= time.time() + CLOCK_SKEW:
        raise ValueError(f'"created_at" {seconds:.0f} is not between 2000 and now (use Unix seconds, not milliseconds)')
    return seconds
