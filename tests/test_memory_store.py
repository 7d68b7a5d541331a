"""MemoryStore behaviour with the real embedder (fastembed, local MiniLM) and the real hnswlib index."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import orjson
import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.errors import ConsentError, InputError, ModelError
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.observe import (
    CONSENT_GIVEN_HINT,
    CONSENT_WITHDRAWN_HINT,
    FORGOTTEN_HINT,
    NOT_OPTED_IN_HINT,
    SECRET_NOT_KEPT_HINT,
)
from sel.memory.store import MemoryStore
from sel.memory.store_lock import StoreInUseError

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
DAY = 24 * 3600.0
T0 = 1_700_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module", autouse=True)
def embedder():
    """Load the embedding model once for the module (every store in the process shares it)."""
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=clock) as opened:
        yield opened


def reopen(store: MemoryStore, clock: Clock) -> MemoryStore:
    store.close()
    return MemoryStore.open(store.root.parent, EMBED_DIR, clock=clock)


def texts(store: MemoryStore, user_id: str) -> list[str]:
    return sorted(m["text"] for m in export_user(store, user_id)["memories"])


def test_consent_given_in_conversation_stores_the_facts_of_that_message(store):
    result = store.observe("u1", "You can remember stuff about me. My turtle is called Shelly. I'm a nurse.")
    assert result.consent_changed is True
    assert result.reply_hint == CONSENT_GIVEN_HINT
    assert sorted(m.text for m in result.stored) == ["I'm a nurse", "My turtle is called Shelly"]
    assert store.has_consent("u1")


def test_without_consent_facts_are_not_stored_and_a_request_explains_the_opt_in(store):
    result = store.observe("u1", "remember that my dog is called Rex")
    assert result.consent_changed is None and result.stored == []
    assert result.reply_hint == NOT_OPTED_IN_HINT
    assert export_user(store, "u1")["memories"] == []
    assert store.observe("u1", "my dog is called Rex").reply_hint == "", "only explicit requests get the hint"


def test_withdrawal_stops_storing_at_once_and_hides_what_is_kept(store):
    store.observe("u1", "you can remember things about me")
    store.observe("u1", "my turtle is called Shelly")
    result = store.observe("u1", "stop remembering things about me. I live in Rome.")
    assert result.consent_changed is False and result.reply_hint == CONSENT_WITHDRAWN_HINT
    assert result.stored == []
    assert store.observe("u1", "I'm a nurse").stored == []
    assert texts(store, "u1") == ["My turtle is called Shelly"], "withdrawal stores nothing new"
    assert store.recall("u1", "what is my turtle called?") == [], "withdrawn users are not reminded"
    with pytest.raises(ConsentError) as err:
        store.add("u1", "likes tea")
    assert err.value.exit_code == 3 and "sel memory consent u1 on" in str(err.value)


def test_asking_to_be_forgotten_in_conversation_erases_everything_about_the_user(store):
    store.observe("u1", "you can remember things about me")
    store.observe("u1", "my turtle is called Shelly. I live in Quimperle.")
    store.put_profile("u1", "style", {"emoji": 0.5})
    store.observe("u2", "you can remember things about me. I live in Ghent.")
    result = store.observe("u1", "forget everything you know about me")
    assert result.consent_changed is False and result.forgotten and result.reply_hint == FORGOTTEN_HINT
    exported = export_user(store, "u1")
    assert (exported["memories"], exported["profiles"], exported["consent"], exported["last_seen"]) == (
        [],
        {},
        False,
        None,
    ), "nothing about u1 may be left"
    assert store.observe("u1", "I'm a nurse").stored == [], "nothing new is stored either"
    store.checkpoint(force=True)
    on_disk = b"".join(p.read_bytes() for p in store.root.rglob("*") if p.is_file())
    assert b"Shelly" not in on_disk and b"Quimperle" not in on_disk and b'"u1"' not in on_disk
    assert texts(store, "u2") == ["I live in Ghent"], "other users keep their memories"


def test_a_vague_or_conditional_forget_only_stops_storing_and_keeps_what_is_there(store):
    store.observe("u1", "you can remember things about me")
    store.observe("u1", "my turtle is called Shelly")
    for text in ("forget about me", "if you forget everything about me i'll cry"):
        result = store.observe("u1", text)
        assert result.consent_changed is False and not result.forgotten and result.reply_hint == CONSENT_WITHDRAWN_HINT
    assert texts(store, "u1") == ["My turtle is called Shelly"]


def test_secrets_are_not_stored_even_when_asked_and_the_hint_says_why(store):
    result = store.observe("u1", "you can remember things about me. My bank pin is 1234. I live in Rome.")
    assert [m.text for m in result.stored] == ["I live in Rome"]
    result = store.observe("u1", "remember that my password is hunter2")
    assert result.stored == [] and result.reply_hint == SECRET_NOT_KEPT_HINT
    assert store.observe("u9", "remember that my password is hunter2").reply_hint == SECRET_NOT_KEPT_HINT
    with pytest.raises(InputError) as err:
        store.add("u1", "card number 4111 1111 1111 1111")
    assert "never stores" in str(err.value) and "\n" not in str(err.value)
    store.checkpoint(force=True)
    on_disk = b"".join(p.read_bytes() for p in store.root.rglob("*") if p.is_file())
    assert b"1234" not in on_disk and b"hunter2" not in on_disk and b"4111" not in on_disk


def test_secrets_never_reach_the_llm_extractor_and_its_secret_lines_are_dropped(tmp_path, clock):
    calls = []

    def llm_extract(text: str) -> list[str]:
        calls.append(text)
        return ["The user's API key is sk-123", "The user lives in Oslo"]

    with MemoryStore.open(tmp_path, EMBED_DIR, clock=clock, llm_extract=llm_extract) as store:
        store.set_consent("u1", True)
        stored = store.observe("u1", "my password is hunter2 ok. I moved to Oslo last spring").stored
        assert calls == ["I moved to Oslo last spring"]
        assert sorted(m.text for m in stored) == ["I moved to Oslo last spring", "The user lives in Oslo"]


def test_a_second_open_of_the_same_store_is_refused_until_the_first_is_closed(tmp_path, clock):
    first = MemoryStore.open(tmp_path, EMBED_DIR, clock=clock)
    try:
        with pytest.raises(StoreInUseError) as err:
            MemoryStore.open(tmp_path, EMBED_DIR, clock=clock)
        message = str(err.value)
        assert "in use by another SEL process" in message and str(tmp_path / "memory") in message
        assert "\n" not in message and err.value.exit_code != 0
        first.set_consent("u1", True)
        first.add("u1", "I play the oboe")
    finally:
        first.close()
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=clock) as second:
        assert texts(second, "u1") == ["I play the oboe"], "the refused open changed nothing"


def test_consent_survives_a_restart(store, clock):
    store.set_consent("u1", True)
    store = reopen(store, clock)
    try:
        assert store.has_consent("u1")
        store.set_consent("u1", False)
        store = reopen(store, clock)
        assert not store.has_consent("u1")
    finally:
        store.close()


def test_a_restated_fact_is_a_duplicate_and_a_reworded_one_updates_its_slot(store, clock):
    store.set_consent("u1", True)
    first = store.add("u1", "I work as a nurse")
    clock.advance(60)
    again = store.add("u1", "oh, btw, i work as a NURSE!")
    assert (again.action, again.id) == ("duplicate", first.id)
    assert again.memory == first.memory, "a plain repeat changes nothing"
    reworded = store.add("u1", "I'm a nurse")
    assert (reworded.action, reworded.id, reworded.previous_text) == ("updated", first.id, "I work as a nurse")
    assert texts(store, "u1") == ["I'm a nurse"]


def test_a_newer_contradicting_fact_replaces_the_older_one(store, clock):
    store.set_consent("u1", True)
    paris = store.add("u1", "I live in Paris")
    clock.advance(3600)
    berlin = store.observe("u1", "I moved to Berlin").stored[0]
    assert berlin.id == paris.id and berlin.text == "I moved to Berlin"
    assert texts(store, "u1") == ["I moved to Berlin"]
    assert [r.text for r in store.recall("u1", "where do I live?")] == ["I moved to Berlin"]


def test_similar_facts_about_different_things_are_both_kept(store):
    store.set_consent("u1", True)
    store.add("u1", "my cat is called Tom")
    store.add("u1", "my dog is called Tom")
    assert texts(store, "u1") == ["my cat is called Tom", "my dog is called Tom"]


def test_tags_combine_the_callers_topic_the_fact_kind_and_keywords(store):
    store.set_consent("u1", True)
    memory = store.observe("u1", "my turtle is called Shelly", tags=["Animals"]).stored[0]
    assert memory.tags == ("animals", "pets", "turtle", "shelly")


def test_recall_ranks_the_relevant_memory_first(store):
    store.set_consent("u1", True)
    for text in ("I love my pet turtle named Shelly", "I work as a nurse", "I live in Lisbon", "I hate mushrooms"):
        store.add("u1", text)
    recalled = store.recall("u1", "what is the name of my turtle?", k=2)
    assert recalled[0].text == "I love my pet turtle named Shelly"
    assert recalled[0].similarity > 0.5
    assert all(r.similarity >= 0.2 for r in recalled), "unrelated memories are left out"


def test_recall_never_returns_another_users_memory_even_when_theirs_match_better(store, clock):
    store.set_consent("a", True)
    store.set_consent("b", True)
    store.add("a", "I collect stamps from Peru")
    names = ["Shelly", "Bob", "Tuck", "Leo", "Mo", "Pip", "Rex", "Ada", "Kit", "Zed", "Ivy", "Oz"]
    foods = ["lettuce", "strawberries", "kale", "worms", "dandelions", "tomatoes", "peas", "melon"]
    turtle_facts = [f"{n}'s turtle eats {f} on {d}" for n in names for f in foods for d in ("Mondays", "weekends")]
    store.add_many("b", turtle_facts)
    assert len(export_user(store, "b")["memories"]) >= 50, "b needs many close matches for the test to mean anything"
    for exact_fraction in (0.02, 0.0):  # the exact scan (a small share of the index) and the filtered graph search
        store.index.exact_fraction = exact_fraction
        recalled = store.recall("a", "what does my turtle eat?", k=10, min_similarity=-1.0)
        assert [r.text for r in recalled] == ["I collect stamps from Peru"], f"path {store.index.last_search_path}"
    assert store.index.last_search_path == "graph"


def test_soft_memories_expire_fourteen_days_after_last_seen_and_hard_ones_stay(store, clock):
    store.set_consent("u1", True)
    store.add("u1", "I am training for a marathon")
    store.add("u1", "I am allergic to penicillin", hard=True)
    clock.advance(13 * DAY)
    store.touch("u1")  # an interaction extends every soft memory
    clock.advance(13 * DAY)
    assert len(store.recall("u1", "what am I training for?", min_similarity=-1.0)) == 2
    clock.advance(1 * DAY + 1)
    assert [r.text for r in store.recall("u1", "what am I training for?", min_similarity=-1.0)] == [
        "I am allergic to penicillin"
    ], "expired memories are hidden even before the pruner runs"
    assert store.prune_expired() == 1
    assert store.prune_expired() == 0
    store = reopen(store, clock)
    try:
        assert texts(store, "u1") == ["I am allergic to penicillin"]
    finally:
        store.close()


def test_profiles_are_kept_only_with_consent(store):
    assert store.put_profile("u1", "style", {"emoji": 0.5}) is False
    assert store.get_profile("u1", "style") is None
    store.set_consent("u1", True)
    assert store.put_profile("u1", "style", {"emoji": 0.5}) is True
    profile = store.get_profile("u1", "style")
    assert profile == {"emoji": 0.5}
    profile["emoji"] = 1.0
    assert store.get_profile("u1", "style") == {"emoji": 0.5}, "callers get a copy"
    store.set_consent("u1", False)
    assert store.get_profile("u1", "style") is None


def test_llm_extraction_adds_facts_and_its_failures_fall_back_to_the_rules(tmp_path, clock, caplog):
    calls = []

    def llm_extract(text: str) -> list[str]:
        calls.append(text)
        return ["The user's sister Mia is a pilot", 42]  # junk entries are ignored

    with MemoryStore.open(tmp_path / "a", EMBED_DIR, clock=clock, llm_extract=llm_extract) as store:
        store.observe("u1", "my sister Mia flies planes for a living, I'm a nurse")
        assert calls == [], "nothing is sent for extraction without consent"
        store.set_consent("u1", True)
        stored = store.observe("u1", "my sister Mia flies planes for a living. I'm a nurse").stored
        assert sorted(m.text for m in stored) == ["I'm a nurse", "The user's sister Mia is a pilot"]

    def broken(text: str) -> list[str]:
        raise RuntimeError("model crashed")

    with MemoryStore.open(tmp_path / "b", EMBED_DIR, clock=clock, llm_extract=broken) as store:
        store.set_consent("u1", True)
        with caplog.at_level(logging.WARNING):
            stored = store.observe("u1", "I work nights as a nurse. I live in Porto").stored
        assert [m.text for m in stored] == ["I live in Porto"]
        assert "LLM fact extraction failed" in caplog.text


def test_add_rejects_empty_and_overlong_text(store):
    store.set_consent("u1", True)
    with pytest.raises(InputError):
        store.add("u1", "   ")
    with pytest.raises(InputError):
        store.add("u1", "x" * 2001)


def test_import_is_all_or_nothing_and_names_the_bad_line(store, tmp_path):
    store.set_consent("u1", True)
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"text": "I grow tomatoes", "tags": ["garden"], "created_at": 1600000000}\n'
        "\n"
        '{"text": "My daughter is called Ines", "hard": true, "created_at": "2021-05-01T10:00:00"}\n'
    )
    assert store.import_jsonl("u1", good).count("stored") == 2
    exported = {m["text"]: m for m in export_user(store, "u1")["memories"]}
    assert exported["I grow tomatoes"]["tags"][0] == "garden"
    assert exported["I grow tomatoes"]["created_at"] == 1600000000
    assert exported["My daughter is called Ines"]["hard"] is True
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "I play chess"}\n{"text": "I sing"}\n{"text": "I knit", "hard": "yes"}\n')
    with pytest.raises(InputError) as err:
        store.import_jsonl("u1", bad)
    assert "bad.jsonl line 3" in str(err.value) and "hard" in str(err.value)
    assert "\n" not in str(err.value)
    assert len(export_user(store, "u1")["memories"]) == 2, "a bad line imports nothing"
    with pytest.raises(ConsentError):
        store.import_jsonl("nobody", good)


def test_export_holds_everything_about_the_user_and_nothing_about_others(store):
    store.set_consent("u1", True)
    store.set_consent("u2", True)
    store.add("u1", "I play the oboe", hard=True)
    store.add("u2", "I play the tuba")
    store.put_profile("u1", "style", {"emoji": 0.1})
    exported = export_user(store, "u1")
    assert exported["consent"] is True and exported["profiles"] == {"style": {"emoji": 0.1}}
    assert [m["text"] for m in exported["memories"]] == ["I play the oboe"]
    assert exported["memories"][0]["expires_at"] is None
    assert "tuba" not in orjson.dumps(exported).decode()


def test_stats_count_without_naming_users(store):
    store.set_consent("secret-user", True)
    store.add("secret-user", "I have a secret hobby", hard=True)
    stats = store.stats()
    assert (stats["users"], stats["consenting_users"], stats["memories"], stats["hard"]) == (1, 1, 1, 1)
    assert "secret" not in orjson.dumps(stats).decode()


def test_a_missing_model_folder_is_a_one_line_model_error(tmp_path):
    with pytest.raises(ModelError) as err:
        MemoryStore.open(tmp_path, tmp_path / "no-such-model")
    assert "make setup" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "created_at", [99999999999999, 1700000000000, 12, "1970-01-02T00:00:00", "2999-01-01T00:00:00"]
)
def test_import_refuses_implausible_creation_times(store, tmp_path, created_at):
    store.set_consent("u1", True)
    bad = tmp_path / "future.jsonl"
    bad.write_text(json.dumps({"text": "I have a cat named Tom", "created_at": created_at}) + "\n")
    with pytest.raises(InputError, match=r"future\.jsonl line 1: .*created_at.*between 2000 and now"):
        store.import_jsonl("u1", bad)
    assert export_user(store, "u1")["memories"] == []


def test_the_memory_folders_are_private_to_the_owner_whatever_the_umask(tmp_path):
    previous = os.umask(0)  # the most permissive umask: only the store's own modes keep others out
    try:
        with MemoryStore.open(tmp_path / "data", EMBED_DIR):
            pass
    finally:
        os.umask(previous)
    for folder in (tmp_path / "data" / "memory", tmp_path / "data" / "memory" / "index"):
        mode = stat.S_IMODE(folder.stat().st_mode)
        assert mode == 0o700, f"{folder} has mode {mode:o}; what people said about themselves is owner-only"
