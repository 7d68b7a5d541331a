"""Reading sel.toml's text: its syntax errors as one line, and the line each key is written on.

tomllib says where a syntax error is, but not where a well-formed key with a wrong value sits;
:func:`key_lines` finds that with a small scan of the text (table headers and ``key =`` lines,
skipping multi-line strings), which is all an error message needs.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from sel.errors import ConfigError

KEY_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")
BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
SYNTAX_WHERE = re.compile(r"^(?P<what>.*?)\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)$")

Path_ = tuple[str, ...]


class SettingsFileError(ConfigError):
    """sel.toml cannot be used: its one line names the file, the line, the key and the fix."""


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """``text`` as TOML; a syntax error becomes one SettingsFileError line naming ``label``, line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = SYNTAX_WHERE.match(str(err))
        if found is None:  # "(at end of document)": the file stops mid-entry, e.g. cut short while saved
            what = str(err).replace("(at end of document)", "").strip()
            what = what[:1].lower() + what[1:]
            last = text.count("\n") + (0 if text.endswith("\n") else 1)
            raise SettingsFileError(
                f"{label} line {max(last, 1)}, at the end of the file: {what}; finish or fix the TOML syntax"
            ) from None
        what = found["what"][:1].lower() + found["what"][1:]
        raise SettingsFileError(
            f"{label} line {found['line']}, column {found['column']}: {what}; fix the TOML syntax"
        ) from None


def show_key(path: Path_) -> str:
    """``servers."123".mode``: bare parts as they are, others (ids, spaces) quoted as TOML writes them."""
    return ".".join(part if BARE.fullmatch(part) else '"' + part.replace('"', '\\"') + '"' for part in path)


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line ``path`` is written on, else the line of the nearest table above it that is written."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def key_lines(text: str) -> dict[Path_, int]:
    """Each table header and ``key =`` line of ``text``, by its full key path (1-based line numbers)."""
    found: dict[Path_, int] = {}
    table: Path_ = ()
    closing: str | None = None  # the delimiter of a multi-line string we are inside
    for number, line in enumerate(text.splitlines(), start=1):
        if closing is not None:
            if closing in line:
                closing = None
            continue
        stripped = line.strip()
        if stripped.startswith("["):
            header = _key_path(stripped.strip("[").split("]", 1)[0])
            if header:
                table = header
                found.setdefault(table, number)
            continue
        key, _, value = stripped.partition("=")
        parts = _key_path(key) if _ else None
        if not parts:
            continue
        found.setdefault(table + parts, number)
        closing = _opens_multiline(value)
    return found


def _key_path(text: str) -> Path_ | None:
    """The parts of a dotted TOML key (``servers."123".mode``), or None when ``text`` is not one."""
    parts: list[str] = []
    position = 0
    while True:
        match = KEY_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        parts.append(next(group for group in match.groups() if group is not None))
        position = match.end()
        if position == len(text):
            return tuple(parts)
        if text[position] != ".":
            return None
        position += 1


def _opens_multiline(value: str) -> str | None:
    """The delimiter when ``value`` starts a multi-line string that does not close on its line."""
    for delimiter in ('"""', "'''"):
        if value.strip().startswith(delimiter) and value.count(delimiter) % 2 == 1:
            return delimiter
    return None
