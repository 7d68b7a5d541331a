"""Character cards (TavernAI / SillyTavern JSON) as an SEL persona: a name and one persona text.

Both common shapes are read: V1, the fields at the top level, and V2/V3,
``{"spec": "chara_card_v2" | "chara_card_v3", "data": {...}}``. The persona keeps the card's
description, personality, scenario, first message and example dialogue, each trimmed to its share
of :data:`BUDGET` characters, because the persona is part of every prompt. ``{{char}}`` becomes the
name, and ``{{user}}`` "User" in dialogue and "the user" in prose. SEL's own rules (honesty,
consent) are not part of a card: the brain adds them after the persona.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sel.errors import InputError

BUDGET = 3000  # characters, about 800 tokens of every prompt
SHARES = {"description": 1200, "personality": 500, "scenario": 400, "first_mes": 300, "mes_example": 600}
SPEAKING = ("first_mes", "mes_example")  # fields where {{user}} is someone spoken to, not spoken of
SPECS = ("chara_card_v2", "chara_card_v3")
FORMAT_HINT = "expected a TavernAI/SillyTavern character card in JSON (V1, or V2/V3 with spec and data)"


@dataclass(frozen=True)
class Character:
    """A card read into what sel.toml holds: the name and the persona text."""

    name: str
    persona: str


def read_card(raw: bytes, label: str) -> Character:
    """The character in ``raw`` (a card file's bytes); InputError naming ``label`` for anything else."""
    if raw.startswith(b"\x89PNG"):
        raise InputError(f"{label}: a PNG card; export the character as JSON (SillyTavern: Export > JSON)")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{label}: not JSON ({err}); {FORMAT_HINT}") from None
    return character_of(data, label)


def character_of(data: Any, label: str) -> Character:
    """The character in a parsed card; InputError naming ``label`` and the missing or bad field."""
    if isinstance(data, dict) and data.get("spec") in SPECS:
        data = data.get("data")
    if not isinstance(data, dict):
        raise InputError(f"{label}: not a character card; {FORMAT_HINT}")
    name = _field(data, "name", label)
    if not name or len(name) > 32 or "\n" in name or ":" in name:
        raise InputError(f"{label}: name {name!r} must be 1 to 32 characters on one line without a colon")
    # Dialogue names the other speaker; prose speaks about them.
    parts = {key: _filled(_field(data, key, label), name, "User" if key in SPEAKING else "the user") for key in SHARES}
    if not parts["description"] and not parts["personality"]:
        raise InputError(f"{label}: the card has no description or personality to make a persona from")
    return Character(name, _persona(name, parts))


def _persona(name: str, parts: dict[str, str]) -> str:
    greeting = _trim(parts["first_mes"], SHARES["first_mes"])
    sections = [
        f"{name}: {_trim(parts['description'], SHARES['description'])}" if parts["description"] else "",
        f"Personality: {_trim(parts['personality'], SHARES['personality'])}" if parts["personality"] else "",
        f"Scenario: {_trim(parts['scenario'], SHARES['scenario'])}" if parts["scenario"] else "",
        f"{name} greets people like this: {greeting}" if greeting else "",
        f"How {name} talks, for example:\n{_examples(parts['mes_example'])}" if parts["mes_example"] else "",
    ]
    return _trim("\n".join(s for s in sections if s), BUDGET)


def _field(data: dict[str, Any], key: str, label: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{label}: field {key!r} is not text; {FORMAT_HINT}")
    return value.strip()


def _filled(text: str, name: str, user: str) -> str:
    """``{{char}}``/``<BOT>`` as the name, ``{{user}}``/``<USER>`` as ``user`` (case-insensitive)."""
    text = re.sub(r"\{\{char\}\}|<bot>", name, text, flags=re.IGNORECASE)
    return re.sub(r"\{\{user\}\}|<user>", user, text, flags=re.IGNORECASE)


def _examples(text: str) -> str:
    """Example dialogue without the ``<START>`` separators, cut at a whole line within its share."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip() and line.strip().upper() != "<START>"]
    kept: list[str] = []
    for line in lines:
        if sum(len(k) + 1 for k in kept) + len(line) > SHARES["mes_example"]:
            break
        kept.append(line)
    if not kept and lines:  # one very long line: cut it rather than lose all the examples
        return _trim(lines[0], SHARES["mes_example"])
    return "\n".join(kept)


def _trim(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, at the last sentence or word end that fits, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    end = max(cut.rfind(". "), cut.rfind("\n"), cut.rfind("! "), cut.rfind("? "))
    if end < limit // 2:
        end = cut.rfind(" ")
    return (cut[: end + 1] if end > 0 else cut).rstrip() + "…"
