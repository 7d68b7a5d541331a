"""Keyword (BM25) scores over one user's own memories: the rare words embeddings blur ("Kestrel", "XJ-9").

Each user has a small inverted index, kept in step with the store's view lazily: before scoring,
:func:`keyword_scores` compares the user's memories (id, version, label) with what it indexed
and re-reads only what changed, so adds, updates, deletes, forgets and prunes need no hooks.
Scores come only from the asking user's memories, and the IDF too: nothing of another user
shapes them. Exact BM25 (k1=1.2, b=0.75); a user has tens to thousands of memories.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sel.memory.records import Memory
from sel.memory.state import MemoryState

K1 = 1.2
B = 0.75
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
_STOP = frozenset(
    """a an the i im i'm me my mine we our you your he she it its they them their this that these those is are was
    were be been being am do does did done have has had having to of in on at by for with about from into over
    and or but not no so if then than as just very really also too what who whom whose where when why how which
    tell remember recall know said say did ever any some can could would should will shall may might again
    there here up out off all get got""".split()
)


def terms(text: str) -> list[str]:
    """``text``'s searchable words: case-folded, stop words dropped, plural and -ing/-ed endings trimmed."""
    return [_stem(word) for word in _WORD.findall(text.casefold().replace("\u2019", "'")) if word not in _STOP]


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix, keep in (("ing", 4), ("ed", 4), ("es", 4), ("s", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


@dataclass
class UserKeywords:
    """One user's inverted index: term -> label -> count, with each memory's length."""

    indexed: dict[str, tuple[int, int]] = field(default_factory=dict)  # memory id -> (version, label)
    postings: dict[str, dict[int, int]] = field(default_factory=dict)
    lengths: dict[int, int] = field(default_factory=dict)
    counts: dict[int, Counter[str]] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)  # label -> text, for the detail scan
    keyed: dict[str, set[int]] = field(default_factory=dict)  # detail key -> labels (sel.memory.details.text_keys)
    text_keys: dict[int, frozenset[str]] = field(default_factory=dict)
    _joined: tuple[str, list[int], list[int]] | None = None  # texts joined by newlines, their starts, labels

    def sync(self, memories: Mapping[str, Memory]) -> None:
        """Bring the index in step with ``memories`` (the user's, by id)."""
        for memory_id in [i for i in self.indexed if i not in memories]:
            self._remove(memory_id)
        for memory in memories.values():
            if self.indexed.get(memory.id) != (memory.version, memory.label):
                self._remove(memory.id)
                self._add(memory)

    def scores(self, query: Iterable[str], allowed: set[int]) -> dict[int, float]:
        """BM25 score of every ``allowed`` memory holding a ``query`` term, as a share of an ideal match (about 0-1)."""
        if not self.lengths:
            return {}
        average = sum(self.lengths.values()) / len(self.lengths)
        out: dict[int, float] = {}
        wanted = set(query)
        # What a memory of average length naming every query word once would score: scores are shares of it,
        # so a match on common words only ("work") stays small however it ranks.
        ideal = sum(self._idf(term) for term in wanted) or 1.0
        for term in wanted:
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = self._idf(term) / ideal
            for label, count in posting.items():
                if label in allowed:
                    norm = K1 * (1.0 - B + B * self.lengths[label] / average)
                    out[label] = out.get(label, 0.0) + idf * count * (K1 + 1.0) / (count + norm)
        return out

    def naming(self, details: frozenset[str], allowed: set[int]) -> set[int]:
        """The ``allowed`` labels whose text may name one of ``details`` (every one that does, some that may not).

        A lookup of each detail's keys (sel.memory.details.detail_keys); details that only a scan can
        find ("12:30") take one regex pass over the user's joined texts. Searching each memory instead
        took 87 ms a query for a user with 5 000 memories (busy machine), the joined scan 12 ms.
        """
        from sel.memory.details import detail_keys, mention_starts  # details imports this module

        found: set[int] = set()
        scan = set()
        for detail in details:
            keys = detail_keys(detail)
            if keys is None:
                scan.add(detail)
            for key in keys or ():
                found.update(self.keyed.get(key, ()))
        if scan:
            joined, starts, labels = self._joined_texts()
            found.update(labels[bisect.bisect_right(starts, at) - 1] for at in mention_starts(frozenset(scan), joined))
        return found & allowed

    def _joined_texts(self) -> tuple[str, list[int], list[int]]:
        from sel.memory.details import searchable

        if self._joined is None:
            labels = list(self.texts)
            parts = [searchable(self.texts[label]) for label in labels]
            starts, offset = [], 0
            for part in parts:
                starts.append(offset)
                offset += len(part) + 1
            self._joined = ("\n".join(parts), starts, labels)
        return self._joined

    def _idf(self, term: str) -> float:
        found = len(self.postings.get(term, ()))
        return math.log(1.0 + (len(self.lengths) - found + 0.5) / (found + 0.5))

    def _add(self, memory: Memory) -> None:
        from sel.memory.details import text_keys  # details imports this module

        counts = Counter(terms(memory.text))
        self.indexed[memory.id] = (memory.version, memory.label)
        self.lengths[memory.label] = sum(counts.values())
        self.counts[memory.label] = counts
        self.texts[memory.label] = memory.text
        self._joined = None
        keys = text_keys(memory.text)
        self.text_keys[memory.label] = keys
        for key in keys:
            self.keyed.setdefault(key, set()).add(memory.label)
        for term, count in counts.items():
            self.postings.setdefault(term, {})[memory.label] = count

    def _remove(self, memory_id: str) -> None:
        entry = self.indexed.pop(memory_id, None)
        if entry is None:
            return
        label = entry[1]
        self.lengths.pop(label, None)
        self.texts.pop(label, None)
        self._joined = None
        for key in self.text_keys.pop(label, frozenset()):
            holders = self.keyed.get(key, set())
            holders.discard(label)
            if not holders:
                self.keyed.pop(key, None)
        for term in self.counts.pop(label, Counter()):
            posting = self.postings.get(term, {})
            posting.pop(label, None)
            if not posting:
                self.postings.pop(term, None)


# One book of per-user indexes per store view; it goes when the view goes.
_books: weakref.WeakKeyDictionary[MemoryState, dict[str, UserKeywords]] = weakref.WeakKeyDictionary()
_books_lock = threading.Lock()


def keyword_scores(view: MemoryState, user_id: str, query: str, allowed: set[int]) -> dict[int, float]:
    """BM25 scores (label -> score) of ``query`` over the ``allowed`` memories of ``user_id`` in ``view``.

    Call it under the store's lock, which also keeps the per-user index consistent.
    """
    index = user_keywords(view, user_id)
    return index.scores(terms(query), allowed) if index is not None else {}


def user_keywords(view: MemoryState, user_id: str) -> UserKeywords | None:
    """The user's index, brought in step with ``view`` (a pass over their memories: once per recall);
    None when they have no memories. Call it under the store's lock."""
    with _books_lock:
        book = _books.setdefault(view, {})
    memories = view.by_user.get(user_id, {})
    if not memories:
        book.pop(user_id, None)  # everything of theirs was deleted: so are its words
        return None
    index = book.setdefault(user_id, UserKeywords())
    index.sync(memories)
    return index


def forget_cached() -> None:
    """Drop every keyword index (rebuilt on the next recall): after a forget, no text of theirs stays in memory."""
    with _books_lock:
        _books.clear()
