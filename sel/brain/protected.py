"""Parts of a text that style changes must leave exactly as written.

Code fences (an unclosed fence runs to the end), inline code, URLs, Discord mentions and
channel/role/emoji tags, ``@name`` mentions, and quoted lines (``> …``). Style mirroring
lowercases and trims emoji only outside these spans, and measures a user's style only on
the text outside them.
"""

from __future__ import annotations

import re

FENCE = "```"
INLINE_CODE = re.compile(r"`[^`\n]+`")
URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
DISCORD_TAG = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>")
AT_NAME = re.compile(r"(?<![\w@])@[\w.]{2,32}")
QUOTE_LINE = re.compile(r"^[ \t]*>[^\n]*", re.MULTILINE)

Span = tuple[int, int]


def protected_spans(text: str) -> list[Span]:
    """Sorted, non-overlapping (start, end) index pairs of ``text`` to leave untouched."""
    spans: list[Span] = []
    outside: list[Span] = []  # stretches between fences, where the other kinds are looked for
    pos = 0
    while True:
        start = text.find(FENCE, pos)
        if start < 0:
            outside.append((pos, len(text)))
            break
        outside.append((pos, start))
        end = text.find(FENCE, start + len(FENCE))
        end = len(text) if end < 0 else end + len(FENCE)
        spans.append((start, end))
        pos = end
        if pos >= len(text):
            break
    for lo, hi in outside:
        chunk = text[lo:hi]
        for pattern in (QUOTE_LINE, INLINE_CODE, URL, DISCORD_TAG, AT_NAME):
            spans.extend((lo + m.start(), lo + m.end()) for m in pattern.finditer(chunk))
    return _merge(spans)


def outside_spans(text: str) -> str:
    """``text`` with every protected span removed (what a user's style is measured on)."""
    pieces = []
    pos = 0
    for start, end in protected_spans(text):
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    return " ".join(p for p in pieces if p.strip())


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
