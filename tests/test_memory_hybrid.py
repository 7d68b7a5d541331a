"""Hybrid recall: BM25 over the user's own memories fused with cosine, kept in step with every change, per user."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import shared_embedder
from sel.memory.keyword_index import UserKeywords, keyword_scores, terms
from sel.memory.ranking import DEFAULT_FUSION, DENSE_ONLY, Fusion, fused_relevance
from sel.memory.recall import recall
from sel.memory.records import Memory
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
NOW = 1_750_000_000.0
# Everyday facts that share no rare word with the queries below.
FILLER = [
    f"my friend number {i} {what}"
    for i in range(12)
    for what in ("likes long walks by the sea", "plays board games on weekends", "cooks pasta every friday")
]


def _memory(label: int, text: str, version: int = 1) -> Memory:
    return Memory(f"m{label}", "u1", text, (), False, NOW, NOW, label, version)


def test_terms_drop_stop_words_and_trim_endings() -> None:
    assert terms("What did I tell you about my cats' walking?") == ["cat", "walk"]


def test_bm25_scores_the_rare_word_highest_and_follows_updates_and_deletes() -> None:
    index = UserKeywords()
    memories = {m.id: m for m in [_memory(0, "I play chess"), _memory(1, "I play the oboe"), _memory(2, "I play go")]}
    index.sync(memories)
    scores = index.scores(terms("oboe"), {0, 1, 2})
    assert set(scores) == {1} and 0 < scores[1] <= 1.0
    memories["m1"] = _memory(1, "I play the flute", version=2)  # updated in place
    index.sync(memories)
    assert index.scores(terms("oboe"), {0, 1, 2}) == {}
    assert set(index.scores(terms("flute"), {0, 1, 2})) == {1}
    del memories["m1"]
    index.sync(memories)
    assert index.scores(terms("flute"), {0, 1, 2}) == {}
    assert set(index.scores(terms("chess play"), {0, 2})) == {0, 2}, "only allowed labels are scored"


def test_weighted_fusion_lets_a_keyword_match_overtake_a_slightly_closer_meaning() -> None:
    cosine = {1: 0.50, 2: 0.45, 3: 0.30}
    keyword = {2: 0.9}
    relevance, share = fused_relevance(Fusion(kind="weighted", keyword_weight=0.1), cosine, keyword)
    assert sorted(relevance, key=relevance.__getitem__, reverse=True) == [2, 1, 3]
    assert share == {1: 0.0, 2: 0.9, 3: 0.0}
    dense, _ = fused_relevance(DENSE_ONLY, cosine, keyword)
    assert dense == cosine


def test_rrf_scores_rank_one_in_both_lists_as_one() -> None:
    relevance, _ = fused_relevance(Fusion(kind="rrf"), {1: 0.9, 2: 0.5}, {1: 0.7, 2: 0.2})
    assert relevance[1] == pytest.approx(1.0)
    assert relevance[2] < relevance[1]


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def store(tmp_path: Path):
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as opened:
        for user in ("u1", "u2"):
            opened.set_consent(user, True, now=NOW)
        yield opened


def _core(store: MemoryStore):  # the functions under the facade, to compare fusions on one store
    return store._core


def _ids(store: MemoryStore, query: str, fusion: Fusion, user: str = "u1", k: int = 3) -> list[str]:
    found = recall(_core(store), user, query, k=k, now=NOW, min_similarity=0.2, tz=UTC, fusion=fusion)
    return [r.text for r in found]


def test_bm25_singles_out_the_rare_word_among_memories_alike_in_meaning(store: MemoryStore) -> None:
    alike = [f"the locker code for gym bag {i} is written on a blue sticker" for i in range(20)]
    store.add_many("u1", [*alike, "the gym bag with the blue sticker says zugzwang on it"], now=NOW)
    state = _core(store).state
    scores = keyword_scores(state, "u1", "zugzwang sticker", state.labels_by_user["u1"])
    best = max(scores, key=scores.__getitem__)
    assert "zugzwang" in state.memory_at(best).text
    assert _ids(store, "zugzwang sticker", DEFAULT_FUSION, k=1) == [state.memory_at(best).text]
    core = _core(store)
    hybrid, dense = (
        recall(core, "u1", "zugzwang sticker", k=1, now=NOW, min_similarity=0.2, tz=UTC, fusion=fusion)[0]
        for fusion in (DEFAULT_FUSION, DENSE_ONLY)
    )
    lift = DEFAULT_FUSION.keyword_weight * min(1.0, scores[best])
    assert hybrid.score == pytest.approx(dense.score + lift), "recall must add the weighted keyword share"


def test_dense_finds_a_paraphrase_that_shares_no_word(store: MemoryStore) -> None:
    store.add_many("u1", [*FILLER, "I adore felines and own three of them"], now=NOW)
    query = "do I love cats?"
    assert keyword_scores(_core(store).state, "u1", query, _core(store).state.labels_by_user["u1"]) == {}
    assert any("felines" in t for t in _ids(store, query, DEFAULT_FUSION))


def test_keywords_stay_per_user(store: MemoryStore) -> None:
    store.add("u2", "my secret hobby is zugzwang studies", now=NOW)
    store.add_many("u1", FILLER[:5], now=NOW)
    assert not any("zugzwang" in t for t in _ids(store, "zugzwang", DEFAULT_FUSION, user="u1", k=10))
    assert any("zugzwang" in t for t in _ids(store, "zugzwang", DEFAULT_FUSION, user="u2"))


def test_forgetting_drops_the_words_too(store: MemoryStore) -> None:
    store.add_many("u1", [*FILLER[:5], "my tortoise is called zugzwang"], now=NOW)
    assert _ids(store, "zugzwang", DEFAULT_FUSION)
    store.forget("u1")
    store.set_consent("u1", True, now=NOW)
    store.add("u1", "I like tea", now=NOW)
    state = _core(store).state
    assert keyword_scores(state, "u1", "zugzwang", state.labels_by_user["u1"]) == {}


def test_recall_refuses_to_return_another_users_memory(store: MemoryStore) -> None:
    store.add("u1", "I like tea", now=NOW)
    theirs = store.add("u2", "I like green tea a lot", now=NOW).memory
    _core(store).state.labels_by_user["u1"].add(theirs.label)  # a broken view: the guard must still hold
    with pytest.raises(RuntimeError, match="another user's memory"):
        store.recall("u1", "tea", k=5)
