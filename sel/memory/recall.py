"""Reading memories back: recall by meaning and keywords for a reply, and a user's whole record for an export or a map.

Recall searches only the labels of the asking user's unexpired memories, so nothing of anyone
else can come back (sel.memory.index, sel.memory.keyword_index); it embeds the query outside
the lock and checks consent again once it holds it. Candidates are the nearest by meaning, the
best by BM25, those naming the query's details and those said in the window its time words
name (sel.memory.when); sel.memory.ranking fuses their scores.

A reply's place (``where``) filters before anything is ranked: a memory whose scope keeps it
out of that place (sel.memory.scopes) is never a candidate, so it cannot reach a reply. Episodes
(the person's own turns) take at most half of the ``k`` places while facts are left to fill
them, and can bring the turns said next to them in their conversation (``neighbours``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

import orjson

from sel.memory.core import StoreCore
from sel.memory.details import named_share, query_details
from sel.memory.episodes import neighbours as episode_neighbours
from sel.memory.keyword_index import terms, user_keywords
from sel.memory.ranking import DEFAULT_FUSION, Fusion, fused_relevance, recall_score
from sel.memory.recall_question import topic_of
from sel.memory.records import Memory, Recalled, UserRecords, clean_text
from sel.memory.retention import SOFT_TTL_SECONDS, is_expired
from sel.memory.scopes import DM, visible
from sel.memory.when import Window, time_window

if TYPE_CHECKING:
    import numpy as np

MAX_WINDOW_CANDIDATES = 200  # the most recent memories said inside a query's time window that are scored


@dataclass(frozen=True, slots=True)
class _Query:
    text: str
    details: frozenset[str]
    window: Window | None
    fusion: Fusion


def recall(
    core: StoreCore,
    user_id: str,
    query: str,
    *,
    k: int,
    now: float,
    min_similarity: float,
    tz: tzinfo | None = None,
    fusion: Fusion = DEFAULT_FUSION,
    where: str | None = None,
    neighbours: int = 0,
) -> list[Recalled]:
    """The user's ``k`` memories most relevant to ``query``, best first (see MemoryStore.recall).

    ``tz`` is where "yesterday" starts (default: the machine's local time zone). ``where`` is the
    reply's place (None: everywhere, for the owner's tools); ``neighbours`` adds up to that many
    turns before and after each matched episode, right after it.
    """
    query = clean_text(query)
    if k <= 0 or not query:
        return []
    zone = tz or datetime.now().astimezone().tzinfo
    window = time_window(query, now, zone) if fusion.time_bonus and zone else None
    asked = _Query(query, query_details(query), window, fusion)
    with core.lock:
        if user_id not in core.state.consent or user_id not in core.state.labels_by_user:
            return []
    vector = core.embedder().embed_query(topic_of(query))  # outside the lock: the slow part
    with core.lock:
        core.check_open()
        if user_id not in core.state.consent:
            return []
        ranked = _ranked(core, user_id, asked, vector, now, min_similarity, want=max(4 * k, 20), where=where)
        ranked.sort(key=lambda r: r.score, reverse=True)
        chosen = _chosen(ranked, k)
        return _with_neighbours(core, chosen, neighbours, where, now) if neighbours > 0 else chosen


def _chosen(ranked: list[Recalled], k: int) -> list[Recalled]:
    """The best ``k`` of ``ranked`` (best first), each text once, episodes capped while facts can fill the places."""
    cap = max(1, (k + 1) // 2)
    chosen: list[Recalled] = []
    spare: list[Recalled] = []
    texts: set[str] = set()
    for one in ranked:
        if len(chosen) == k:
            break
        text = one.text.casefold()
        if text in texts:
            continue  # a turn that was one fact word for word, or the same fact kept for two servers
        texts.add(text)
        if one.kind == "episode" and sum(r.kind == "episode" for r in chosen) >= cap:
            spare.append(one)
        else:
            chosen.append(one)
    chosen += spare[: k - len(chosen)]  # no fact was left for these places
    chosen.sort(key=lambda r: r.score, reverse=True)
    return chosen


def _with_neighbours(
    core: StoreCore, chosen: list[Recalled], count: int, where: str | None, now: float
) -> list[Recalled]:
    """``chosen`` with each episode followed by its visible neighbouring turns (under the lock)."""
    out: list[Recalled] = []
    seen = {one.id for one in chosen}
    for one in chosen:
        out.append(one)
        if one.kind != "episode":
            continue
        for memory in episode_neighbours(core.state, core.state.memories[one.id], count, now):
            if memory.id not in seen and visible(memory.scope, where):
                seen.add(memory.id)
                out.append(_recalled(memory, one.score, 0.0, neighbour_of=one.id))
    return out


def _recalled(memory: Memory, score: float, similarity: float, *, neighbour_of: str | None = None) -> Recalled:
    return Recalled(
        memory.id,
        memory.text,
        score,
        similarity,
        memory.tags,
        memory.hard,
        memory.created_at,
        memory.when_said,
        kind=memory.kind,
        scope=memory.scope,
        neighbour_of=neighbour_of,
    )


def _ranked(
    core: StoreCore,
    user_id: str,
    asked: _Query,
    vector: np.ndarray,
    now: float,
    min_similarity: float,
    want: int,
    where: str | None,
) -> list[Recalled]:
    """Every candidate that passes ``min_similarity``, scored (under the lock)."""
    cosine, keyword = _candidates(core, user_id, asked, vector, now, want, where)
    relevance, share = fused_relevance(asked.fusion, cosine, keyword)
    out = []
    for label, similarity in cosine.items():
        memory = core.state.memory_at(label)
        if memory.user_id != user_id:
            raise RuntimeError("memory index returned another user's memory")  # never reachable; never leak
        lift = asked.fusion.detail_bonus * named_share(asked.details, memory.text) + _time_lift(asked, memory)
        if similarity + lift + asked.fusion.keyword_weight * share[label] >= min_similarity:
            out.append(_recalled(memory, recall_score(relevance[label], memory, now) + lift, similarity))
    return out


def _candidates(
    core: StoreCore, user_id: str, asked: _Query, vector: np.ndarray, now: float, want: int, where: str | None
) -> tuple[dict[int, float], dict[int, float]]:
    """(label -> cosine, label -> BM25) of the memories worth scoring: the nearest by meaning, the best by
    keywords, those naming the query's details and those said in its time window."""
    allowed = _recallable_labels(core, user_id, now, where)
    cosine = dict(core.index.search(vector, allowed, k=want))
    keyword: dict[int, float] = {}
    extra: set[int] = set()
    keywords = user_keywords(core.state, user_id)  # BM25 and the detail lookup share one sync with the view
    if asked.fusion.kind != "dense" and keywords is not None:
        keyword = keywords.scores(terms(asked.text), allowed)
        extra.update(sorted(keyword, key=lambda label: keyword[label], reverse=True)[:want])
    if asked.details and keywords is not None:
        # The nearest by embedding can miss the one fact among many similar ones that names "trip 17".
        maybe = keywords.naming(asked.details, allowed)  # a lookup, not a search per memory
        extra.update(label for label in maybe if named_share(asked.details, core.state.memory_at(label).text) > 0)
    if asked.window is not None:
        extra.update(_said_within(core, allowed, asked.window))
    extra.difference_update(cosine)
    if extra:
        labels = sorted(extra)
        cosine.update(zip(labels, (float(c) for c in core.index.similarities(labels, vector)), strict=True))
    return cosine, keyword


def _time_lift(asked: _Query, memory: Memory) -> float:
    if asked.window is None:
        return 0.0
    start, end = asked.window
    return asked.fusion.time_bonus if start <= memory.when_said < end else 0.0


def _said_within(core: StoreCore, allowed: set[int], window: Window) -> list[int]:
    """The labels of the ``allowed`` memories said inside ``window``, the most recent first, capped."""
    start, end = window
    inside = [core.state.memory_at(label) for label in allowed]
    inside = [m for m in inside if start <= m.when_said < end]
    inside.sort(key=lambda m: m.when_said, reverse=True)
    return [m.label for m in inside[:MAX_WINDOW_CANDIDATES]]


def _recallable_labels(core: StoreCore, user_id: str, now: float, where: str | None) -> set[int]:
    """The labels of the user's memories that may come back at ``where``: unexpired, and scoped to be seen there."""
    labels = core.state.labels_by_user.get(user_id, set())
    last_seen = core.state.last_seen.get(user_id)
    if last_seen is None or now >= last_seen + SOFT_TTL_SECONDS:  # not seen lately: some may have expired
        memories = core.state.by_user.get(user_id, {})
        labels = {m.label for m in memories.values() if not is_expired(m, last_seen, now)}
    if where is None or where == DM:
        return labels  # a DM is with the person: all of their own memories may come back there
    return {label for label in labels if visible(core.state.memory_at(label).scope, where)}


def user_records(core: StoreCore, user_id: str) -> UserRecords:
    """Everything stored about the user, read at one moment (whatever their consent: an export shows all)."""
    with core.lock:
        state = core.state
        return UserRecords(
            user_id=user_id,
            consented_at=state.consent.get(user_id),
            last_seen=state.last_seen.get(user_id),
            memories=tuple(sorted(state.user_memories(user_id), key=lambda m: m.created_at)),
            profiles=orjson.loads(orjson.dumps(state.profiles.get(user_id, {}))),
        )


def embedded_memories(core: StoreCore, user_id: str, now: float) -> tuple[list[Memory], np.ndarray]:
    """The user's unexpired memories and their embeddings (one row each), read together under the lock."""
    with core.lock:
        last_seen = core.state.last_seen.get(user_id)
        memories = [m for m in core.state.user_memories(user_id) if not is_expired(m, last_seen, now)]
        return memories, core.index.vectors([m.label for m in memories])
