"""Reading SEL's settings from the environment and `.env`: typed values, each failure one line.

Each reader method takes the variable's name, so a bad value names the variable, the value and
the fix. sel.config builds Settings with it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sel.errors import ConfigError
from sel.undecodable import replace_undecodable

T = TypeVar("T")


def read_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The process environment overlaid on `.env` (the environment wins)."""
    from dotenv import dotenv_values

    path = dotenv_path if dotenv_path is not None else Path.cwd() / ".env"
    values: dict[str, str] = {}
    if path.is_file():
        text = path.read_bytes().decode("utf-8", errors="replace")  # one stray byte must not stop start-up
        values.update({k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None})
    values.update(os.environ)
    return values


class EnvReader:
    """Typed access to the raw string values; each failure names the variable and the fix."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str) -> str:
        return replace_undecodable(self.raw(name) or "")

    def _parse(self, name: str, default: T, parse: Callable[[str], T], what: str, example: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not {what}; set it to {example} in .env or unset it") from None

    def flag(self, name: str, default: bool) -> bool:
        def parse(value: str) -> bool:
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)

        return self._parse(name, default, parse, "a yes/no value", "1 or 0")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._parse(name, default, int, "a whole number", f"a number from {low} to {high}")
        return self._in_range(name, value, low, high)

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        if self.raw(name) in (None, "auto"):
            return None
        return self.integer(name, 0, low, high)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        bounds = f"a number from {_number_text(low)} to {_number_text(high)}"
        value = self._parse(name, default, float, "a number", bounds)
        return self._in_range(name, value, low, high)

    def _in_range(self, name: str, value: T, low: Any, high: Any) -> T:
        if not low <= value <= high:
            raise ConfigError(
                f"{name}={value} is out of range; set it to a number from {_number_text(low)} to {_number_text(high)}"
            )
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            return default
        normal = value.upper() if upper else value.lower()
        if normal not in choices:
            raise ConfigError(f"{name}={value!r} is not a known value; use one of: {', '.join(choices)}")
        return normal

    def timezone(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            return ""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones such as "America"
            raise ConfigError(f"{name}={value!r} is not a time zone; use an IANA name such as Europe/Berlin") from None
        return value

    def path(self, name: str, default: Path) -> Path:
        value = self.raw(name)
        return _utf8_path(name, Path(value).expanduser() if value else default)

    def optional_path(self, name: str) -> Path | None:
        value = self.raw(name)
        return _utf8_path(name, Path(value).expanduser()) if value else None

    def url(self, name: str) -> str | None:
        """The base URL of an OpenAI-compatible server (``http(s)://host[:port]/v1``), without a trailing slash."""
        value = self.raw(name)
        if value is None:
            return None
        from urllib.parse import urlsplit

        fix = f"set {name} to the server's base URL, e.g. http://127.0.0.1:8080/v1"
        if "@" in value.split("://", 1)[-1].split("/", 1)[0]:  # the URL is printed in `sel config` and in errors
            raise ConfigError(f"{name}: the URL holds a user or password; remove it and put the key in SEL_API_KEY")
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:  # a port that is not a number
            parts, port_ok = urlsplit(""), False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ConfigError(f"{name}={value!r} is not an http(s) URL with a host; {fix}")
        if parts.path.strip("/") == "":
            raise ConfigError(f"{name}={value!r} has no API path; add /v1 (OpenAI-compatible servers answer there)")
        return value.rstrip("/")

    def ids(self, name: str) -> frozenset[int]:
        value = self.raw(name)
        if value is None:
            return frozenset()
        out = set()
        for part in value.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ConfigError(
                    f"{name}: {part!r} is not a Discord id; use comma-separated numeric ids "
                    "(Discord: Settings > Advanced > Developer Mode, then right-click > Copy ID)"
                )
            out.add(int(part))
        return frozenset(out)


def _number_text(value: float) -> str:
    """A bound as a person would write it: 2147483647 rather than 2.14748e+09, 0.2 as 0.2."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _utf8_path(name: str, path: Path) -> Path:
    """``path`` unless its name holds bytes that are not UTF-8, which llama.cpp, JSON and logs cannot take.

    Such a path is refused rather than cleaned: a cleaned name would be another file or folder.
    """
    text = str(path)
    shown = replace_undecodable(text)
    if shown != text:
        raise ConfigError(
            f"{name}={shown}: the path is not valid UTF-8 (shown as \ufffd); "
            f"rename it, or point {name} at a path whose name is UTF-8"
        )
    return path
