"""Finding the memories a person means when they ask to forget one ("forget that my cat is Tom").

A description is matched against the person's own memories only, by meaning (cosine) lifted for
memories that name the names and numbers it names (sel.memory.details) and whose slot it names. :func:`clear_match`
decides whether one memory stands out enough to delete it on a chat request: deleting the wrong
fact is worse than asking again, so close calls are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sel.memory.core import StoreCore
from sel.memory.details import NAMED_DETAIL_BONUS, named_share, query_details
from sel.memory.keyword_index import terms
from sel.memory.records import Memory, clean_text

# Measured with MiniLM on pet, home and job facts: a description of the fact itself ("my cat is Tom",
# "my cat's name") scores 0.55-0.95 against it, other facts about the same person 0.1-0.45.
MIN_MATCH = 0.35  # below this a memory is not listed as a match at all
CLEAR_MATCH = 0.5  # a chat request deletes the best match only at or above this ...
CLEAR_MARGIN = 0.08  # ... and only this far ahead of the next best
SLOT_WORD_BONUS = 0.1  # per word of a memory's slot ("name-of:cat") the description names


@dataclass(frozen=True, slots=True)
class Match:
    """A memory that matches a description, with how well (cosine plus the detail lift)."""

    memory: Memory
    score: float


def find(core: StoreCore, user_id: str, text: str, k: int) -> list[Match]:
    """The user's (up to ``k``) memories that match ``text``, best first; expired ones included, since
    they are still stored. Only that user's memories are searched."""
    text = clean_text(text)
    if k <= 0 or not text:
        return []
    with core.lock:
        if user_id not in core.state.labels_by_user:
            return []
    vector = core.embedder().embed_query(text)  # outside the lock: the slow part
    details, words = query_details(text), frozenset(terms(text))
    with core.lock:
        core.check_open()
        labels = core.state.labels_by_user.get(user_id, set())
        matches = []
        for label, cosine in core.index.search(vector, labels, k=max(4 * k, 20)):
            memory = core.state.memory_at(label)
            if memory.user_id != user_id:
                raise RuntimeError("memory index returned another user's memory")  # never reachable; never leak
            score = cosine + NAMED_DETAIL_BONUS * named_share(details, memory.text) + _slot_lift(words, memory)
            if score >= MIN_MATCH:
                matches.append(Match(memory, score))
    matches.sort(key=lambda m: m.score, reverse=True)
    return matches[:k]


def _slot_lift(words: frozenset[str], memory: Memory) -> float:
    """A lift per word of the memory's slot the description names: "my cat's name" names both words
    of "name-of:cat" but only one of "my:cat" (what the cat is like), where cosine barely tells them apart."""
    if not memory.slot:
        return 0.0
    return SLOT_WORD_BONUS * len(words.intersection(terms(memory.slot.replace(":", " ").replace("-", " "))))


def clear_match(matches: list[Match]) -> Match | None:
    """The best of ``matches`` (best first) when it is good and clearly ahead of the rest, else None.

    Facts are weighed among themselves: the turn a fact was learned from (an episode) says the
    same thing and must not make the fact look ambiguous (see :func:`echoes`).
    """
    facts = [m for m in matches if m.memory.kind == "fact"] or matches
    if not facts or facts[0].score < CLEAR_MATCH:
        return None
    if len(facts) > 1 and facts[0].score - facts[1].score < CLEAR_MARGIN:
        return None
    return facts[0]


def echoes(matches: list[Match], best: Match) -> list[Match]:
    """The episodes among ``matches`` that state ``best``'s fact (they hold all its words): forgetting a
    fact forgets the turn it was told in too, or it would come back in recall."""
    words = set(terms(best.memory.text))
    return [m for m in matches if m is not best and m.memory.kind == "episode" and words <= set(terms(m.memory.text))]
