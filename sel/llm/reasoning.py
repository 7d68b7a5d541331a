"""Telling a model's reasoning apart from its reply, as the text streams in.

Reasoning models write ``<think>…</think>`` before they answer. :class:`ThinkSplitter` turns a
stream of text chunks into reply text (``str``) and :class:`~sel.domain.Thought` items, so the
reasoning is never posted as the reply. Tags may be split across chunks ("<thi" + "nk>").

Some chat templates put the opening ``<think>`` into the prompt, so the model's output starts
inside the reasoning and only the closing tag appears. Two ways to handle that:

- ``start_in_thought=True`` when the caller knows the prompt ended with ``<think>`` (the local
  engine renders the prompt itself);
- ``hold_start=True`` when it cannot know (a remote server's template): the start of the reply
  is held back until a ``</think>`` proves it was reasoning, a ``<think>`` opens a block, or the
  stream ends (then it was the reply). A caller that has learned the model does not think can
  stream without holding.

Each reasoning block comes out as one Thought (stripped; an empty block yields nothing), when it
closes or when the stream ends inside it.
"""

from __future__ import annotations

from sel.domain import Thought

OPEN = "<think>"
CLOSE = "</think>"
Piece = str | Thought


class ThinkSplitter:
    """Feed it chunks of model output; it returns reply text and Thought items in order."""

    def __init__(self, *, start_in_thought: bool = False, hold_start: bool = False) -> None:
        self._mode = "thought" if start_in_thought else "hold" if hold_start else "text"
        self._buf = ""  # text not handed out yet: a possible partial tag, a held start, or a thought
        self._after_thought = False  # drop the blank lines a model writes between </think> and its answer
        self.saw_close = False  # a </think> came: the caller may learn that this model thinks

    def feed(self, text: str) -> list[Piece]:
        """The pieces that are certain after ``text``; a possible partial tag stays buffered."""
        self._buf += text
        out: list[Piece] = []
        while self._step(out):
            pass
        return out

    def finish(self) -> list[Piece]:
        """Everything still buffered, at the end of the stream."""
        rest, self._buf = self._buf, ""
        out: list[Piece] = []
        if self._mode == "thought":
            self._thought(rest, out)
        else:  # text, or a held start that no </think> ever claimed: it was the reply
            self._text(rest, out)
        return out

    def _step(self, out: list[Piece]) -> bool:
        """Handle the next tag in the buffer; False when no whole tag is left to handle."""
        tags = (CLOSE,) if self._mode == "thought" else (OPEN, CLOSE)
        found = [(i, tag) for tag in tags if (i := self._buf.find(tag)) >= 0]
        if not found:
            self._flush_certain(out)
            return False
        at, tag = min(found)
        before, self._buf = self._buf[:at], self._buf[at + len(tag) :]
        if self._mode == "thought" or (self._mode == "hold" and tag == CLOSE):
            self._thought(before, out)
            self.saw_close = True
            self._mode = "text"
        elif tag == OPEN:
            self._text(before, out)
            self._mode = "thought"
        else:  # a stray </think> in the reply: its text before it is already out, the tag is dropped
            self._text(before, out)
            self.saw_close = True
        return True

    def _flush_certain(self, out: list[Piece]) -> None:
        """Hand out reply text that cannot be the start of a tag; thoughts and held text wait."""
        if self._mode != "text":
            return
        keep = _partial_tag_length(self._buf)
        certain = self._buf[: len(self._buf) - keep]
        self._buf = self._buf[len(certain) :]
        self._text(certain, out)

    def _text(self, text: str, out: list[Piece]) -> None:
        if self._after_thought:
            text = text.lstrip()
            self._after_thought = not text
        if text:
            out.append(text)

    def _thought(self, text: str, out: list[Piece]) -> None:
        self._after_thought = True
        text = text.replace(OPEN, "").strip()  # a model told to think may still open the block itself
        if text:
            out.append(Thought(text))


def _partial_tag_length(text: str) -> int:
    """Length of the longest end of ``text`` that could begin a tag ("<th", "</thi")."""
    for n in range(min(len(text), len(CLOSE) - 1), 0, -1):
        tail = text[-n:]
        if OPEN.startswith(tail) or CLOSE.startswith(tail):
            return n
    return 0
