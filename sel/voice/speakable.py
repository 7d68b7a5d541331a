"""What of a chat reply should be read aloud: words, not markup."""

from __future__ import annotations

import re

CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")  # [label](url): say the label
URL = re.compile(r"https?://\S+")
MENTION = re.compile(r"<[@#][!&]?\d+>")
CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")
SUBTEXT = re.compile(r"^-# .*$", re.M)  # Discord's small-print lines (e.g. "heard: ...")
MARKUP = re.compile(r"[*_~|>#]+")


def speakable(text: str) -> str:
    """``text`` without code, links, mentions and markdown symbols; "" when nothing is left to say."""
    text = CODE_BLOCK.sub(" (code) ", text)
    text = INLINE_CODE.sub(" ", text)
    text = LINK.sub(r"\1", text)
    text = URL.sub(" (link) ", text)
    text = MENTION.sub(" ", text)
    text = CUSTOM_EMOJI.sub(r"\1", text)
    text = SUBTEXT.sub(" ", text)
    text = MARKUP.sub(" ", text)
    words = " ".join(text.split())
    return words if re.search(r"\w", words) else ""


SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
MIN_SENTENCE_CHARS = 40  # shorter pieces are joined to the next: each clip has a start-up cost


def speakable_sentences(text: str) -> list[str]:
    """The words of ``text`` to read aloud (see :func:`speakable`), as sentences of at least a few words."""
    out: list[str] = []
    for piece in SENTENCE_END.split(speakable(text)):
        if out and len(out[-1]) < MIN_SENTENCE_CHARS:
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out
