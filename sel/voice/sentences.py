"""Sentences to speak, cut from a reply while it is still being written.

Tokens arrive a few characters at a time; :class:`SentenceChunker` hands back each sentence as
soon as it is complete, in the words to read aloud (see :mod:`sel.voice.speakable`), so speech
can start after the first sentence instead of after the whole reply. The first sentence goes out
however short it is (the sooner SEL is heard, the better); later short ones wait to be joined to
the next, since each clip has a start-up cost. Nothing is cut inside an unclosed code block.
"""

from __future__ import annotations

import re

from sel.voice.speakable import MIN_SENTENCE_CHARS, speakable

# A sentence end (closing markup or quotes may follow it), or a blank line.
BOUNDARY = re.compile(r"(?<=[.!?…])[*_~)\]\"'’”]*\s+|\n\s*\n")
FENCE = "```"


class SentenceChunker:
    """Feed it a reply's text as it streams; it returns the speakable sentences completed so far."""

    def __init__(self) -> None:
        self._raw = ""
        self._held = ""
        self._said = 0

    @property
    def said(self) -> int:
        """How many sentences were handed out."""
        return self._said

    def add(self, text: str) -> list[str]:
        """Take more of the reply; return the sentences it completed (often none)."""
        self._raw += text
        searchable = self._raw
        if searchable.count(FENCE) % 2:  # inside a code block: its dots are not sentence ends
            searchable = searchable[: searchable.rfind(FENCE)]
        ends = list(BOUNDARY.finditer(searchable))
        if not ends:
            return []
        cut = ends[-1].end()
        done, self._raw = self._raw[:cut], self._raw[cut:]
        return self._sentences(done, final=False)

    def finish(self) -> list[str]:
        """The reply is complete: whatever is left, as the last sentences."""
        rest, self._raw = self._raw, ""
        return self._sentences(rest, final=True)

    def _sentences(self, text: str, *, final: bool) -> list[str]:
        out = []
        # Markup and code go first (a code block's dots are not sentence ends), then the sentences.
        for words in BOUNDARY.split(speakable(text)):
            if words:
                self._held = f"{self._held} {words}".strip()
            if self._held and (self._said == 0 or len(self._held) >= MIN_SENTENCE_CHARS):
                out.append(self._held)
                self._held = ""
                self._said += 1
        if final and self._held:
            out.append(self._held)
            self._held = ""
            self._said += 1
        return out
