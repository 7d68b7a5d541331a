"""How the CLI prints values: settings and figures as plain words, data as indented JSON."""

from __future__ import annotations

import sys
from typing import Any

import orjson


def plain(value: object) -> str:
    """A setting or a figure as a person reads it: yes/no, "-" for nothing, lists joined by commas."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def print_json(data: Any) -> None:
    """``data`` as indented UTF-8 JSON on stdout (orjson: text stays readable, not \\u-escaped)."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
