"""Forgetting one fact: the store's delete and find, "forget that ..." in chat, and no trace left on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.errors import InputError
from sel.memory.embeddings import shared_embedder
from sel.memory.forget_request import read_forget_requests
from sel.memory.observe import FORGOTTEN_HINT
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
USER, OTHER = "user-5e1f", "user-0a7b"
FACTS = ["My cat is called Tom", "My cat is grey", "I live in Lisbon", "I work as a nurse", "My dog is called Rex"]


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def store(tmp_path: Path):
    with MemoryStore.open(tmp_path, EMBED_DIR) as opened:
        for user in (USER, OTHER):
            opened.set_consent(user, True)
            opened.add_many(user, FACTS)
        yield opened


def texts(store: MemoryStore, user: str) -> list[str]:
    return sorted(m.text for m in store.memories(user))


def memory_id(store: MemoryStore, user: str, text: str) -> str:
    return next(m.id for m in store.memories(user) if m.text == text)


def traces(root: Path, needles: list[str]) -> list[str]:
    """Every file under root holding one of the needles, raw or as JSON escapes it (either way)."""
    found = []
    for path in [p for p in root.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        for needle in needles:
            for encoded in {needle.encode(), orjson.dumps(needle)[1:-1], json.dumps(needle)[1:-1].encode()}:
                if encoded in data:
                    found.append(f"{path.relative_to(root)} holds {needle!r}")
    return found


# ---- the store's API ---------------------------------------------------------------------------


def test_delete_removes_one_memory_and_keeps_the_rest(store):
    deleted = store.delete(USER, memory_id(store, USER, "I live in Lisbon"))
    assert deleted.text == "I live in Lisbon"
    assert texts(store, USER) == sorted(set(FACTS) - {"I live in Lisbon"})
    assert "I live in Lisbon" not in [r.text for r in store.recall(USER, "where do I live?")]
    assert texts(store, OTHER) == sorted(FACTS), "the other user's same fact stays"


def test_delete_refuses_another_users_memory_in_one_line(store):
    theirs = memory_id(store, OTHER, "My cat is called Tom")
    with pytest.raises(InputError) as refused:
        store.delete(USER, theirs)
    assert "\n" not in str(refused.value) and theirs in str(refused.value)
    assert texts(store, OTHER) == sorted(FACTS), "another user's memory must never be deleted"
    with pytest.raises(InputError):
        store.delete(USER, "no-such-id")


def test_find_lists_only_that_users_matching_memories_best_first(store):
    store.add(OTHER, "My cat is called Felix")
    found = store.find(USER, "my cat", k=5)
    assert [m.memory.text for m in found][:2] in (
        ["My cat is called Tom", "My cat is grey"],
        ["My cat is grey", "My cat is called Tom"],
    )
    assert all(m.memory.user_id == USER for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert store.find(USER, "my favourite opera singer", k=5) == [], "nothing unrelated is offered"


# ---- no trace on disk --------------------------------------------------------------------------


def test_a_deleted_memory_leaves_no_trace_on_disk(tmp_path):
    old, new = 'My cat is called "Tömmy"', "My cat is called Zébulon"
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.set_consent(USER, True)
        store.add(USER, "I live in Lisbon")
        store.add(USER, old)
        memory = store.add(USER, new).memory  # a correction: the old text lives on in its history
        assert memory.history and memory.history[0].text == old
        vector = store.index.vectors([memory.label])[0]
        graph_copy = np.asarray(store.index._hnsw.get_items([memory.label])[0], dtype=np.float32).tobytes()[:64]
        store.checkpoint(force=True)  # a snapshot that holds the vector, so deleting must replace it
    damaged = [
        b'{"op":"put","memory":{"id":"' + memory.id.encode() + b'","te\n',  # user id lost, memory id kept
        b'{"op":"put","memory":{"text":"' + orjson.dumps(old)[1:-1] + b'","lab\n',  # only the old text
        b'{"op":"put","memory":{"text":"My cat is called Z\xc3\xa9bulon\n',  # only the current text, raw
        b'{"op":"put","memory":{"text":"I collect antique maps","lab\n',  # someone else's, kept
    ]
    (tmp_path / "memory" / "quarantine.jsonl").write_bytes(b"".join(damaged))
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        graph = b"".join(p.read_bytes() for p in (tmp_path / "memory" / "index").glob("graph-*.bin"))
        assert graph_copy in graph, "before the delete the vector is on disk (else this test proves nothing)"
        assert traces(tmp_path, [old, new, memory.id]), "before the delete the texts are on disk"
        store.delete(USER, memory.id)
        assert texts(store, USER) == ["I live in Lisbon"]
    assert traces(tmp_path, [old, new, memory.id, "Tömmy", "Zébulon"]) == []
    quarantine = (tmp_path / "memory" / "quarantine.jsonl").read_bytes()
    assert quarantine == damaged[3], "only quarantined lines holding the memory are removed"
    saved = np.concatenate([np.load(p) for p in (tmp_path / "memory" / "index").glob("vectors-*.npy")])
    assert float((saved @ vector).max()) < 0.99, "the saved vectors still hold the deleted memory's embedding"
    graph = b"".join(p.read_bytes() for p in (tmp_path / "memory" / "index").glob("graph-*.bin"))
    assert graph_copy not in graph, "hnswlib's copy of the vector must be overwritten"
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert texts(store, USER) == ["I live in Lisbon"], "the delete is durable"


def test_forgetting_a_user_also_drops_quarantined_lines_that_lost_their_user_id(tmp_path):
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.set_consent(USER, True)
        kept = store.add(USER, "I grow Quokkaberries").memory
    damaged = [
        b'{"op":"put","memory":{"id":"' + kept.id.encode() + b'","te\n',
        b'{"op":"put","memory":{"text":"I grow Quokkaberries","lab\n',
        b'{"op":"put","memory":{"text":"I collect antique maps","lab\n',
    ]
    (tmp_path / "memory" / "quarantine.jsonl").write_bytes(b"".join(damaged))
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.forget(USER)
    assert traces(tmp_path, ["Quokkaberries", kept.id]) == []
    assert (tmp_path / "memory" / "quarantine.jsonl").read_bytes() == damaged[2]


# ---- in conversation ---------------------------------------------------------------------------


def test_forget_that_in_chat_deletes_the_matching_memory_and_stores_nothing_new(store):
    result = store.observe(USER, "Forget that my cat is Tom.")
    assert result.forgotten_one == ("My cat is called Tom",)
    assert "My cat is called Tom" in result.reply_hint and "deleted" in result.reply_hint
    assert result.outcomes == [], "the request must not be stored as a fact"
    assert texts(store, USER) == sorted(set(FACTS) - {"My cat is called Tom"})
    assert texts(store, OTHER) == sorted(FACTS)


def test_the_request_never_reaches_fact_extraction(tmp_path):
    """A model extractor reads what is left of the message: the request must not come back as a fact."""
    with MemoryStore.open(tmp_path, EMBED_DIR, llm_extract=lambda text: [text]) as store:
        store.set_consent(USER, True)
        store.add(USER, "My cat is called Tom")
        result = store.observe(USER, "Forget that my cat is Tom.")
        assert result.forgotten_one == ("My cat is called Tom",)
        assert store.memories(USER) == [], "the request itself was stored as a memory"


def test_forget_my_job_finds_the_fact_whose_slot_it_names(store):
    result = store.observe(USER, "forget my job")
    assert result.forgotten_one == ("I work as a nurse",)


def test_forgetting_a_fact_also_forgets_the_turn_it_was_told_in(tmp_path):
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.set_consent(USER, True)
        told = store.observe(USER, "we adopted a kitten last week. My cat is called Tom.", channel="c1")
        assert sorted(o.memory.kind for o in told.outcomes) == ["episode", "fact"], "the turn is kept as an episode"
        store.observe(USER, "my cat knocked my coffee over this morning", channel="c1")
        result = store.observe(USER, "forget that my cat is Tom", channel="c1")
        assert result.forgotten_one == ("My cat is called Tom",)
        assert [m.text for m in store.memories(USER)] == ["my cat knocked my coffee over this morning"]
    assert traces(tmp_path, ["Tom", "kitten"]) == []


def test_please_forget_my_cats_name_picks_the_name_not_the_colour(store):
    result = store.observe(USER, "please forget my cat's name")
    assert result.forgotten_one == ("My cat is called Tom",)
    assert "My cat is grey" in texts(store, USER)


def test_an_unclear_or_unmatched_request_deletes_nothing_and_says_so(store):
    for request in ("forget my cat", "forget that my favourite opera is Tosca", "forget my hospital"):
        result = store.observe(USER, request)
        assert result.forgotten_one == ()
        assert "nothing was deleted" in result.reply_hint, request
    assert texts(store, USER) == sorted(FACTS)


def test_forget_one_works_after_consent_was_withdrawn(store):
    store.set_consent(USER, False)
    result = store.observe(USER, "forget that I live in Lisbon")
    assert result.forgotten_one == ("I live in Lisbon",)
    assert "I live in Lisbon" not in texts(store, USER)


def test_forget_everything_is_still_the_full_erase(store):
    result = store.observe(USER, "forget everything you know about me")
    assert result.forgotten and result.reply_hint == FORGOTTEN_HINT and result.forgotten_one == ()
    assert texts(store, USER) == []


def test_other_facts_in_the_same_message_are_still_stored(store):
    result = store.observe(USER, "Forget that I live in Lisbon. My sister is called Miabella.")
    assert result.forgotten_one == ("I live in Lisbon",)
    assert [m.text for m in result.stored] == ["My sister is called Miabella"]


@pytest.mark.parametrize(
    ("message", "about"),
    [
        ("forget that my cat is Tom", ("my cat is Tom",)),
        ("Please forget my cat's name.", ("my cat's name",)),
        ("could you delete what I told you about my job?", ("my job",)),
        ("ok sel, forget the fact that I'm vegan, thanks!", ("I'm vegan",)),
        ("forget my birthday from your memory please", ("my birthday",)),
        ("don't forget my birthday", ()),
        ("did you forget my birthday?", ()),
        ("I forget my keys a lot", ()),
        ("forget about work, let's relax", ()),
        ("forget it", ()),
        ("forget me", ()),
        ("forget everything about me", ()),
    ],
)
def test_what_counts_as_a_request_to_forget_one_fact(message, about):
    assert read_forget_requests(message).about == about
