"""Splitting long replies into Discord messages without breaking code blocks."""

from __future__ import annotations

import re

DISCORD_LIMIT = 2000
FENCE = re.compile(r"^\s*```")
LANGUAGE = re.compile(r"[\w+#.-]{1,20}")  # what a fence may name, as Discord highlights it


def split_for_discord(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters.

    Prefers paragraph, then line, then sentence, then word boundaries. A piece that ends
    inside a fenced code block closes the fence, and the next piece reopens it with the
    same language, so every message renders on its own.
    """
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    rest = text
    reopen = ""  # the fence line to start the next piece with, if it continues a code block
    while rest:
        budget = limit - len(reopen)
        if len(rest) <= budget:
            pieces.append(reopen + rest)
            break
        # Room for a closing fence if this piece ends inside a code block.
        cut = _cut_point(rest, budget - 4)
        head, rest = rest[:cut], rest[cut:]
        piece = reopen + head
        language = _open_fence_language(piece)
        if language is not None:
            piece = piece.rstrip("\n") + "\n```"
            # Only a language name is repeated: a long line after the backticks could not fit again.
            reopen = f"```{language}\n" if LANGUAGE.fullmatch(language) else "```\n"
            rest = rest.lstrip("\n")
        else:
            reopen = ""
            rest = rest.lstrip()
        pieces.append(piece.rstrip() if language is None else piece)
    return [p for p in pieces if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    """The best place to cut ``text`` at or before ``budget`` characters."""
    window = text[:budget]
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at > budget // 3:
            return at + len(separator)
    sentence = max(window.rfind(". "), window.rfind("! "), window.rfind("? "))
    if sentence > budget // 3 and not _makes_fence(text, sentence + 2):
        return sentence + 2
    space = window.rfind(" ")
    if space > budget // 3 and not _makes_fence(text, space + 1):
        return space + 1
    cut = budget
    while cut > 1 and _makes_fence(text, cut):
        cut -= 1
    return cut


def _makes_fence(text: str, cut: int) -> bool:
    """True when cutting at ``cut`` would start the next piece with backticks taken from the middle
    of a line: they would become a code fence that the text never had."""
    return text[cut : cut + 64].lstrip(" ").startswith("`") and cut > 0 and text[cut - 1] != "\n"


def _open_fence_language(piece: str) -> str | None:
    """The language of a code fence left open at the end of ``piece`` ("" for none), else None."""
    language: str | None = None
    for line in piece.splitlines():
        if FENCE.match(line):
            language = line.strip()[3:].strip() if language is None else None
    return language
