"""Reading memories back: recall by meaning for a reply, and a user's whole record for an export or a map.

Recall searches only the labels of the asking user's unexpired memories, so nothing of anyone
else can come back (sel.memory.index); it embeds the query outside the lock and checks
consent again once it holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from sel.memory.core import StoreCore
from sel.memory.details import NAMED_DETAIL_BONUS, named_share, query_details
from sel.memory.ranking import recall_score
from sel.memory.records import Memory, Recalled, UserRecords, clean_text
from sel.memory.retention import SOFT_TTL_SECONDS, is_expired

if TYPE_CHECKING:
    import numpy as np


def recall(core: StoreCore, user_id: str, query: str, *, k: int, now: float, min_similarity: float) -> list[Recalled]:
    """The user's ``k`` memories most relevant to ``query``, best first (see MemoryStore.recall)."""
    query = clean_text(query)
    if k <= 0 or not query:
        return []
    details = query_details(query)
    with core.lock:
        if user_id not in core.state.consent or user_id not in core.state.labels_by_user:
            return []
    vector = core.embedder().embed_query(query)  # outside the lock: the slow part
    with core.lock:
        core.check_open()
        if user_id not in core.state.consent:
            return []
        allowed = _recallable_labels(core, user_id, now)
        hits = core.index.search(vector, allowed, k=max(4 * k, 20))
        if details:
            hits += _naming(core, details, vector, allowed, skip={label for label, _ in hits})
        ranked = []
        for label, similarity in hits:
            memory = core.state.memory_at(label)
            if memory.user_id != user_id:
                raise RuntimeError("memory index returned another user's memory")  # never reachable; never leak
            lift = NAMED_DETAIL_BONUS * named_share(details, memory.text)
            if similarity + lift >= min_similarity:
                score = recall_score(similarity, memory, now) + lift
                ranked.append(
                    Recalled(memory.id, memory.text, score, similarity, memory.tags, memory.hard, memory.created_at)
                )
    ranked.sort(key=lambda r: r.score, reverse=True)
    return ranked[:k]


def _naming(
    core: StoreCore, details: frozenset[str], vector: np.ndarray, allowed: set[int], *, skip: set[int]
) -> list[tuple[int, float]]:
    """(label, cosine) of the ``allowed`` memories that name one of ``details``: the nearest neighbours
    by embedding can miss the one fact among many similar ones that names "trip 17"."""
    labels = [
        label for label in allowed if label not in skip and named_share(details, core.state.memory_at(label).text) > 0
    ]
    if not labels:
        return []
    return list(zip(labels, (float(c) for c in core.index.vectors(labels) @ vector), strict=True))


def _recallable_labels(core: StoreCore, user_id: str, now: float) -> set[int]:
    labels = core.state.labels_by_user.get(user_id, set())
    last_seen = core.state.last_seen.get(user_id)
    if last_seen is not None and now < last_seen + SOFT_TTL_SECONDS:
        return labels  # seen recently: nothing of theirs has expired
    memories = core.state.by_user.get(user_id, {})
    return {m.label for m in memories.values() if not is_expired(m, last_seen, now)}


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
