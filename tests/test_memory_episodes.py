"""Episodes: the person's own turns kept whole, with the real store (bundled MiniLM, hnswlib)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import Embedder, shared_embedder
from sel.memory.export import export_user
from sel.memory.recall_question import topic_of
from sel.memory.retention import SOFT_TTL_SECONDS
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
T0 = 1_700_000_000.0
ALICE, BOB = "alice", "bob"
CONSENT = "you can remember stuff about me"
TRIP = "Our trip is booked: we fly to Kyoto on the third, and Ana found a ryokan near the station."
CHATTER = [
    "The new keyboard finally arrived this morning and it clicks a lot.",
    "I spent the afternoon fixing the garden fence with my neighbour.",
    "Work was slow today so I read a novel about submarines during lunch.",
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(scope="module", autouse=True)
def embedder() -> Embedder:
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[MemoryStore]:
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=clock) as opened:
        opened.observe(ALICE, CONSENT, where="dm")
        yield opened


def say(store: MemoryStore, text: str, *, user: str = ALICE, channel: str = "c1", where: str = "dm") -> None:
    store.observe(user, text, where=where, channel=channel)


def episodes(store: MemoryStore, user: str = ALICE) -> list[str]:
    return [m.text for m in store.user_records(user).memories if m.kind == "episode"]


def test_what_did_i_tell_you_about_my_trip_recalls_the_turn(store: MemoryStore) -> None:
    for text in [CHATTER[0], TRIP, *CHATTER[1:]]:
        say(store, text)
    hits = store.recall(ALICE, "what did I tell you about my trip?", k=3, where="dm")
    assert hits and hits[0].text == TRIP and hits[0].kind == "episode", [(h.text, h.kind) for h in hits]


def test_neighbouring_turns_come_back_with_a_matched_turn_in_order(store: MemoryStore) -> None:
    say(store, CHATTER[0])
    say(store, "Unrelated turn in another channel about my bicycle tyres.", channel="c2")
    say(store, TRIP)
    say(store, CHATTER[1])
    say(store, CHATTER[2])
    hits = store.recall(ALICE, "what did I tell you about my trip?", k=1, where="dm", neighbours=1)
    assert [h.text for h in hits] == [TRIP, CHATTER[0], CHATTER[1]], [h.text for h in hits]
    assert [h.neighbour_of for h in hits[1:]] == [hits[0].id, hits[0].id]
    alone = store.recall(ALICE, "what did I tell you about my trip?", k=1, where="dm")
    assert [h.text for h in alone] == [TRIP], "without neighbours only the match comes back"


def test_only_the_persons_own_turns_are_kept_and_only_with_consent(store: MemoryStore) -> None:
    say(store, "Bob here, I am secretly planning a surprise party for Alice.", user=BOB)
    assert store.user_records(BOB).memories == (), "no consent: nothing of Bob's is kept"
    store.observe(BOB, CONSENT)
    say(store, "Bob again, the party is at the boathouse on Friday night.", user=BOB)
    assert episodes(store, BOB) == ["Bob again, the party is at the boathouse on Friday night."]
    assert episodes(store, ALICE) == [], "one person's turns are never kept as another's"
    assert not store.recall(ALICE, "party at the boathouse", where="dm")


def test_secrets_and_bare_chatter_are_not_kept(store: MemoryStore) -> None:
    say(store, "ok thanks")
    say(store, "My password is hunter2. Also the plumber comes on Tuesday to fix the sink.")
    kept = episodes(store)
    assert kept == ["Also the plumber comes on Tuesday to fix the sink."], kept
    assert "hunter2" not in str(export_user(store, ALICE))


def test_a_repeated_turn_and_questions_about_memory_are_kept_once_or_not_at_all(store: MemoryStore) -> None:
    say(store, CHATTER[0])
    say(store, CHATTER[0])
    store.observe(ALICE, "what did I tell you about my keyboard?", tags=("memory",), where="dm", channel="c1")
    assert episodes(store) == [CHATTER[0]], "a repeat is kept once; asking SEL what it remembers is not a turn to keep"


def test_the_question_frame_is_left_out_of_what_is_embedded() -> None:
    assert topic_of("what did I tell you about my trip?") == "my trip?"
    assert topic_of("hey SEL, do you remember what I said about Ana?") == "Ana?"
    assert topic_of("what do you know about my dog") == "my dog"
    assert topic_of("what is my dog called?") == "what is my dog called?"
    assert topic_of("do you remember?") == "do you remember?", "a frame with no topic is kept whole"


def test_without_a_conversation_no_episode_is_kept(store: MemoryStore) -> None:
    store.observe(ALICE, TRIP, where="dm")
    assert episodes(store) == []


def test_episodes_do_not_crowd_out_facts(store: MemoryStore) -> None:
    for n in range(6):
        say(store, f"The trip to Kyoto, day {n}: we walked around the temples and ate noodles again.")
    fact = "is going on a trip to Kyoto with Ana"
    store.add(ALICE, fact)
    query = "Kyoto temples and noodles"
    ranked = [h.text for h in store.recall(ALICE, query, k=10, where="dm")]
    assert ranked.index(fact) >= 3, (
        f"the turns must match better than the fact for this test to mean anything: {ranked}"
    )
    hits = store.recall(ALICE, query, k=3, where="dm")
    assert len(hits) == 3 and fact in [h.text for h in hits], hits
    assert sum(h.kind == "episode" for h in hits) == 2, "episodes take at most half the places (rounded up)"
    only_episodes = store.recall(ALICE, "temples and noodles", k=4, where="dm")
    assert sum(h.kind == "episode" for h in only_episodes) >= 3, "with no fact left for them, episodes fill in"


def test_episodes_obey_scopes(store: MemoryStore) -> None:
    say(store, TRIP, where="dm")
    assert not store.recall(ALICE, "what did I tell you about my trip?", where="guild:1")
    say(store, "Our team offsite is in Lisbon next month and I am giving the keynote.", where="guild:1")
    hits = store.recall(ALICE, "what did I say about the offsite?", where="guild:1", neighbours=1)
    assert all("Kyoto" not in h.text for h in hits), "a DM turn must not come back as a neighbour in a server"


def test_episodes_expire_export_and_are_forgotten_like_facts(store: MemoryStore, clock: Clock) -> None:
    say(store, TRIP)
    exported = [m for m in export_user(store, ALICE)["memories"] if m["kind"] == "episode"]
    assert len(exported) == 1 and exported[0]["channel"] == "c1" and exported[0]["turn"] == 1
    assert exported[0]["expires_at"] is not None, "an episode is soft: it expires like a soft fact"
    clock.now += SOFT_TTL_SECONDS + 10
    assert not store.recall(ALICE, "what did I tell you about my trip?", where="dm")
    assert store.prune_expired() >= 1 and episodes(store) == []
    clock.now = T0 + 100
    say(store, TRIP)
    store.forget(ALICE)
    assert store.user_records(ALICE).memories == ()


def test_a_message_is_embedded_once_with_its_facts(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    core = store._core
    calls: list[int] = []
    real = core.embed

    def counted(texts: list[str]) -> Any:
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(core, "embed", counted)
    say(store, "My sister is called Ana. We are flying to Kyoto together next week.")
    assert len(calls) == 1 and calls[0] >= 2, f"facts and the turn should be embedded in one pass: {calls}"


def test_turn_order_continues_after_a_restart(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=Clock()) as first:
        first.observe(ALICE, CONSENT)
        say(first, CHATTER[0])
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=Clock()) as again:
        say(again, CHATTER[1])
        turns = sorted((m.turn, m.text) for m in again.user_records(ALICE).memories if m.kind == "episode")
        assert turns == [(1, CHATTER[0]), (2, CHATTER[1])]
