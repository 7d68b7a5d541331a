"""Episodes: a person's own turns, kept whole with their time, conversation and order.

Facts say what is true ("my sister is Ana"); episodes keep what was said ("we're flying to Kyoto
on the 3rd, Ana booked the ryokan"), so "what did I tell you about my trip?" finds the turn itself.
Only the person's own messages become episodes (the store is only ever given the author's text),
only with consent, never their secret sentences, and not bare chatter. An episode is a
:class:`~sel.memory.records.Memory` of kind "episode": TTL, export, scopes and forgetting apply as to facts.
"""

from __future__ import annotations

from sel.memory.admission import refusal
from sel.memory.extraction import without_secrets
from sel.memory.records import MAX_TEXT_CHARS, Memory, clean_text
from sel.memory.retention import is_expired
from sel.memory.state import MemoryState

MIN_EPISODE_WORDS = 4  # "ok thanks", "lol same", "hi sel": too short to be worth recalling
# Turns that only ask SEL what it remembers would otherwise be the best match the next time they ask.
SKIPPED_INTENTS = frozenset({"memory"})


def episode_text(text: str, tags: tuple[str, ...] | list[str] = ()) -> str | None:
    """What of a message is kept as an episode: without secret sentences; None when nothing worth keeping is left."""
    if SKIPPED_INTENTS & set(tags):
        return None
    kept = clean_text(without_secrets(clean_text(text)))[:MAX_TEXT_CHARS]
    if len(kept.split()) < MIN_EPISODE_WORDS or refusal(kept) is not None:
        return None  # chatter, or what `sel memory add` would refuse too (a secret)
    return kept


def same_episode(state: MemoryState, user_id: str, channel: str, text: str) -> Memory | None:
    """The person's episode in ``channel`` that already says ``text`` word for word (a repeated message)."""
    folded = text.casefold()
    for memory_id in state.episodes.get((user_id, channel), ()):
        memory = state.memories[memory_id]
        if memory.text.casefold() == folded:
            return memory
    return None


def next_turn(state: MemoryState, user_id: str, channel: str) -> int:
    """The order number of the person's next turn kept in ``channel`` (one past the last)."""
    turns = [state.memories[i].turn or 0 for i in state.episodes.get((user_id, channel), ())]
    return max(turns, default=0) + 1


def neighbours(state: MemoryState, episode: Memory, count: int, now: float) -> list[Memory]:
    """Up to ``count`` of the person's kept turns before and after ``episode`` in its conversation, in order.

    Expired ones are skipped (they are about to be pruned); scopes are the caller's to check.
    """
    if count <= 0 or episode.kind != "episode" or episode.channel is None:
        return []
    last_seen = state.last_seen.get(episode.user_id)
    ids = state.episodes.get((episode.user_id, episode.channel), set())
    ordered = sorted((state.memories[i] for i in ids), key=lambda m: (m.turn or 0, m.when_said))
    ordered = [m for m in ordered if m.id == episode.id or not is_expired(m, last_seen, now)]
    at = next(i for i, m in enumerate(ordered) if m.id == episode.id)
    return ordered[max(0, at - count) : at] + ordered[at + 1 : at + 1 + count]
