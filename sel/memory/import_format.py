"""The bulk import format: JSON lines, one memory per line.

Each line is an object with ``text`` (required) and optional ``tags`` (list of strings,
or one comma-separated string), ``hard`` (true/false), ``created_at`` (Unix seconds
or an ISO 8601 date-time) and ``scope`` (where it may come back: "any", the default for the
owner's imports, "dm" or "guild:<server id>"; see sel.memory.scopes). The file is UTF-8 (a
byte-order mark is allowed), a regular file of at most MAX_IMPORT_BYTES. Every line is checked
before anything is stored: a bad line stops the import with its line number and nothing is
half-imported, unless the caller asks to skip refused lines (then they are listed with their reasons).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sel.errors import InputError
from sel.memory.admission import refusal
from sel.memory.records import MAX_IMPORT_BYTES, RefusedLine, clean_text, normalize_tags
from sel.memory.scopes import ANY, parse_scope

FIELDS = frozenset({"text", "tags", "hard", "created_at", "scope"})
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ImportItem:
    """One memory to import."""

    text: str
    tags: tuple[str, ...]
    hard: bool
    created_at: float | None
    scope: str = ANY


@dataclass(frozen=True, slots=True)
class ImportFile:
    """An import file read and checked: ``lines`` non-blank lines, the good ones as items, the rest refused."""

    lines: int
    items: list[ImportItem]
    refused: list[RefusedLine]


def read_import_file(path: Path, *, skip_refused: bool = False) -> ImportFile:
    """Every memory in ``path``.

    Raises InputError when the file cannot be read, and, unless ``skip_refused``, naming the
    first bad line (nothing is imported then). With ``skip_refused`` bad lines are returned
    in ``refused`` instead.
    """
    items: list[ImportItem] = []
    refused: list[RefusedLine] = []
    lines = 0
    for number, raw in enumerate(_read_bytes(path).removeprefix(_BOM).split(b"\n"), start=1):
        if not raw.strip():
            continue
        lines += 1
        try:
            items.append(parse_line(raw))
        except ValueError as err:
            if not skip_refused:
                raise InputError(
                    f"{path} line {number}: {err}; fix that line and run the import again, or skip bad lines "
                    "with --skip-refused (nothing was imported)"
                ) from None
            refused.append(RefusedLine(number, str(err)))
    return ImportFile(lines, items, refused)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a pipe, device or folder, or a file over the size cap, is refused without reading it."""
    try:
        _check_regular(path, path.stat())  # before opening: opening a FIFO would wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; give the path of a .jsonl file with one memory per line") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror}); check the path and its permissions") from None
    with os.fdopen(fd, "rb") as file:
        _check_regular(path, os.fstat(file.fileno()))  # it may have been swapped since the first check
        data = file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_large(path)
    return data


def _check_regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file (a folder, pipe or device); give the path of a .jsonl file")
    if info.st_size > MAX_IMPORT_BYTES:
        raise _too_large(path)


def _too_large(path: Path) -> InputError:
    return InputError(
        f"{path}: larger than the import limit of {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it into smaller files"
    )


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
        raise ValueError(f"unknown field {unknown[0]!r} (allowed: text, tags, hard, created_at, scope)")
    text = obj.get("text")
    if not isinstance(text, str):
        raise ValueError('"text" is missing or not a string')
    text = clean_text(text)
    refused = refusal(text)  # the same check as `sel memory add`
    if refused is not None:
        raise ValueError(refused.problem)
    hard = obj.get("hard", False)
    if not isinstance(hard, bool):
        raise ValueError('"hard" must be true or false')
    scope = obj.get("scope", ANY)
    if not isinstance(scope, str):
        raise ValueError('"scope" must be "any", "dm" or "guild:<server id>"')
    return ImportItem(text, _tags(obj.get("tags", [])), hard, _timestamp(obj.get("created_at")), parse_scope(scope))


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
        # Whole seconds as written, unless absurd: 1e300 would print 301 digits.
        shown = f"{seconds:.0f}" if abs(seconds) < 1e15 else f"{seconds:g}"
        raise ValueError(f'"created_at" {shown} is not between 2000 and now (use Unix seconds, not milliseconds)')
    return seconds
