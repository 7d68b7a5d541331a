"""Parts of a text that style changes must leave exactly as written.

Code fences (an unclosed fence runs to the end), inline code in single or double backticks,
URLs, Discord mentions and channel/role/emoji tags, ``@name`` mentions, quoted lines
(``> …``) and quotations in double quotes (``"…"`` or ``“…”``) within one line. Style
mirroring lowercases and trims emoji only outside these spans, and measures a user's style
only on the text outside them.

Single quotes (``'…'``, ``‘…’``) are not protected: the closing mark is also the apostrophe
(``‘don’t’``), so there is no telling where such a quotation ends.

Every kind except fences and quoted lines is opened and closed on one line, by a mark that
:data:`OPENERS` names; sel.brain.restyle relies on that to hold back only the current line
while a span may still be opening.
"""

from __future__ import annotations

import re

FENCE = "```"
INLINE_CODE = re.compile(r"`[^`\n]+`")
# ``a `b` c`` (Markdown's way to put a backtick inside inline code); a run of three is a fence.
DOUBLE_CODE = re.compile(r"``[^\n]+?``")
DOUBLE_QUOTE = re.compile(r'"[^"\n]+"')
CURLY_QUOTE = re.compile(r"“[^”\n]+”")
# The one-line spans and the mark that opens each.
OPENERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (INLINE_CODE, "`"),
    (DOUBLE_CODE, "``"),
    (DOUBLE_QUOTE, '"'),
    (CURLY_QUOTE, "“"),
)
URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
DISCORD_TAG = re.compile(r"<(?:@[!&]?|#|a?:\w+:)\d+>")
AT_NAME = re.compile(r"(?<![\w@])@[\w.]{2,32}")
QUOTE_LINE = re.compile(r"^[ \t]*>[^\n]*", re.MULTILINE)

Span = tuple[int, int]


def fence_spans(text: str) -> tuple[list[Span], bool]:
    """The code fences of ``text`` in order, and whether the last one is still open (it then
    runs to the end). Read left to right, so seven backticks in a row are a closed fence and
    then a lone backtick."""
    spans: list[Span] = []
    pos = 0
    while (start := text.find(FENCE, pos)) >= 0:
        end = text.find(FENCE, start + len(FENCE))
        if end < 0:
            spans.append((start, len(text)))
            return spans, True
        pos = end + len(FENCE)
        spans.append((start, pos))
    return spans, False


def protected_spans(text: str) -> list[Span]:
    """Sorted, non-overlapping (start, end) index pairs of ``text`` to leave untouched."""
    fences, _ = fence_spans(text)
    spans = list(fences)
    outside: list[Span] = []  # stretches between fences, where the other kinds are looked for
    pos = 0
    for start, end in fences:
        outside.append((pos, start))
        pos = end
    outside.append((pos, len(text)))
    for lo, hi in outside:
        chunk = text[lo:hi]
        for pattern in (QUOTE_LINE, INLINE_CODE, DOUBLE_CODE, DOUBLE_QUOTE, CURLY_QUOTE, URL, DISCORD_TAG, AT_NAME):
            spans.extend((lo + m.start(), lo + m.end()) for m in pattern.finditer(chunk))
    return _merge(spans)


def first_unclosed(line: str) -> int:
    """Where in ``line`` (one line, outside fences) a one-line span may have opened without
    closing yet — the first opening mark that no complete span of its kind covers — or
    ``len(line)`` if there is none. Text from there on may still become protected."""
    return min((_first_uncovered(line, pattern, mark) for pattern, mark in OPENERS), default=len(line))


def outside_spans(text: str) -> str:
    """``text`` with every protected span removed (what a user's style is measured on)."""
    pieces = []
    pos = 0
    for start, end in protected_spans(text):
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    return " ".join(p for p in pieces if p.strip())


def _first_uncovered(line: str, pattern: re.Pattern[str], mark: str) -> int:
    pos = line.find(mark)
    for match in pattern.finditer(line):  # in order and not overlapping
        if pos < 0 or pos < match.start():
            break
        if pos < match.end():
            pos = line.find(mark, match.end())
    return len(line) if pos < 0 else pos


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
