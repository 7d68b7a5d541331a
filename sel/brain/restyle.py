"""Post-processing of SEL's reply as it streams: lowercase it and trim emoji to the budget,
never touching code, links, mentions or quotes (see sel.brain.protected).

Both changes are local, so they run chunk by chunk. The restyler holds back only what it
cannot judge yet — the unfinished last word (it might become a link or a mention), trailing
backticks (they might open a fence) and, on the current line, everything from a backtick or
double quote whose closing mark has not arrived (it might open inline code or a quotation) —
and :meth:`StreamRestyler.finish` releases the rest. Concatenating every returned piece
gives exactly :func:`restyle` of the whole text.
"""

from __future__ import annotations

from sel.brain.protected import fence_spans, first_unclosed, protected_spans
from sel.brain.style import EMOJI, ReplyShape


class StreamRestyler:
    """Feed reply chunks in, get restyled text out."""

    def __init__(self, shape: ReplyShape) -> None:
        self.shape = shape
        self._raw = ""
        self._done = 0  # how much of _raw has been restyled and returned
        self._emoji_seen = 0
        self._drop_space = False  # an emoji was just dropped: swallow the whitespace after it

    def feed(self, chunk: str) -> str:
        """Restyled text that is now safe to show (possibly empty)."""
        self._raw += chunk
        return self._release(_safe_end(self._raw, self._done))

    def finish(self) -> str:
        """Everything still held back."""
        return self._release(len(self._raw))

    def _release(self, end: int) -> str:
        if end <= self._done:
            return ""
        out: list[str] = []
        pos = self._done
        for start, stop in protected_spans(self._raw):
            if stop <= pos:
                continue
            if start >= end:
                break
            out.append(self._restyle_plain(self._raw[pos:start]) if start > pos else "")
            out.append(self._raw[max(pos, start) : min(stop, end)])
            self._drop_space = False
            pos = min(stop, end)
            if pos >= end:
                break
        if pos < end:
            out.append(self._restyle_plain(self._raw[pos:end]))
        self._done = end
        return "".join(out)

    def _restyle_plain(self, text: str) -> str:
        if self.shape.lowercase:
            # Only one-to-one case mappings, so indices into the raw text stay valid.
            text = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        pieces: list[str] = []
        pos = 0
        for match in EMOJI.finditer(text):
            pieces.append(self._after_dropped(text[pos : match.start()]))
            self._emoji_seen += 1
            if self._emoji_seen <= self.shape.emoji_budget:
                pieces.append(match.group())
            else:
                self._drop_space = True
            pos = match.end()
        pieces.append(self._after_dropped(text[pos:]))
        return "".join(pieces)

    def _after_dropped(self, text: str) -> str:
        if self._drop_space and text:
            self._drop_space = False
            if text[0] in " \t":
                return text[1:]
        return text


def restyle(text: str, shape: ReplyShape) -> str:
    """The whole reply restyled at once (same result as streaming it)."""
    restyler = StreamRestyler(shape)
    return restyler.feed(text) + restyler.finish()


def _safe_end(raw: str, done: int) -> int:
    """How far ``raw`` can be judged now: up to the last whitespace, before any trailing backticks
    and before any span still opening on the current line."""
    end = len(raw)
    fences, inside_fence = fence_spans(raw)
    if not inside_fence:
        cut = max(raw.rfind(" "), raw.rfind("\n"), raw.rfind("\t"))
        end = cut + 1 if cut >= 0 else 0
    while end > done and raw[end - 1] == "`":
        end -= 1
    if not inside_fence:
        # A backtick or quote mark on the current line that closes no span yet may pair with a later one.
        # (A closed fence's text is settled, even when its closing backticks are still held back.)
        fence_end = max((stop for begin, stop in fences if begin < end), default=0)
        start = min(end, max(raw.rfind("\n", 0, end) + 1, fence_end))
        end = start + first_unclosed(raw[start:end])
    return max(done, end)
