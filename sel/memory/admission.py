"""Which texts may become a memory: the one check behind `add`, bulk adds and every import line.

A memory text is cleaned first (records.clean_text: control characters and zero-width spaces
dropped, whitespace collapsed); it must then show something, fit MAX_TEXT_CHARS, and never
be a secret (sel.memory.extraction.is_secret: passwords, PINs, card numbers, keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from sel.errors import InputError
from sel.memory.extraction import is_secret
from sel.memory.records import MAX_TEXT_CHARS, clean_text, is_visible


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a text cannot be a memory (``problem``) and what to do instead (``fix``)."""

    problem: str
    fix: str


def refusal(text: str) -> Refusal | None:
    """Why ``text`` cannot be stored as a memory, or None when it can (check it cleaned, as it will be stored)."""
    if not is_visible(text):
        return Refusal(
            "the memory text is empty (after removing control and invisible characters)",
            'give the fact to remember, e.g. "has a turtle named Shelly"',
        )
    if len(text) > MAX_TEXT_CHARS:
        return Refusal(f"the memory text is {len(text)} characters", f"keep it under {MAX_TEXT_CHARS}")
    if is_secret(text):
        return Refusal(
            "the memory text looks like a password, PIN, card number or key, which SEL never stores", "leave it out"
        )
    return None


def checked_text(text: str) -> str:
    """``text`` cleaned for storing; InputError (problem and fix, one line) when it cannot be a memory."""
    text = clean_text(text)
    refused = refusal(text)
    if refused is not None:
        raise InputError(f"{refused.problem}; {refused.fix}")
    return text
