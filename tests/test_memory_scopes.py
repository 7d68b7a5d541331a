"""Where a memory may come back: scopes, with the real store (bundled MiniLM, hnswlib)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from sel.brain.memory_port import place_of
from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.domain import IncomingMessage
from sel.memory.embeddings import Embedder, shared_embedder
from sel.memory.export import export_user
from sel.memory.observe import NARROWED_HINT, WIDENED_HINT
from sel.memory.records import Memory
from sel.memory.scope_talk import read_scope_request
from sel.memory.scopes import covers, merged, parse_scope, visible
from sel.memory.store import MemoryStore
from sel.memory.svg import memory_map

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
T0 = 1_700_000_000.0
A, B = "guild:111", "guild:222"
ALICE = "alice"
CONSENT = "you can remember stuff about me"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 1.0  # every message a second later, so "the last one told" is well defined
        return self.now


@pytest.fixture(scope="module", autouse=True)
def embedder() -> Embedder:
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=Clock()) as opened:
        opened.observe(ALICE, CONSENT, where="dm")
        yield opened


def recalled(store: MemoryStore, query: str, where: str | None) -> list[str]:
    return [r.text for r in store.recall(ALICE, query, k=5, where=where)]


def mentions(texts: list[str], word: str) -> bool:
    return any(word in text.lower() for text in texts)


# ---- the rules ---------------------------------------------------------------------------------


def test_a_place_is_dm_for_dms_and_the_terminal_else_its_server() -> None:
    def message(*, is_dm: bool, guild_id: str) -> IncomingMessage:
        return IncomingMessage("u", "U", "c", "hi", is_dm=is_dm, guild_id=guild_id)

    assert place_of(message(is_dm=True, guild_id="")) == "dm"  # a DM, or the terminal (the owner's private chat)
    assert place_of(message(is_dm=False, guild_id="111")) == A
    nowhere = place_of(message(is_dm=False, guild_id=""))
    assert not visible("dm", nowhere) and parse_scope(nowhere) == nowhere, "no server known: it sees no DM memory"


def test_visibility_rules() -> None:
    assert visible("dm", "dm") and not visible("dm", A)
    assert visible(A, A) and visible(A, "dm") and not visible(A, B)
    assert visible("any", B) and visible("any", "dm")
    assert visible(f"{A} {B}", B)
    assert covers("any", A) and covers(A, "dm") and not covers(A, B) and not covers("dm", A)
    assert merged(A, B) == f"{A} {B}" and merged("dm", A) == A and merged(A, "any") == "any"


def test_stored_scopes_are_checked_when_read_back() -> None:
    with pytest.raises(ValueError):
        parse_scope("everywhere")
    with pytest.raises(ValueError):
        parse_scope("guild:<script>")
    base = {"id": "x", "user": "u", "text": "t", "tags": [], "hard": False}
    old = Memory.from_json({**base, "created_at": T0, "updated_at": T0, "label": 0, "version": 1})
    assert old.scope == "any" and old.kind == "fact", "a memory stored before scopes keeps coming back everywhere"
    with pytest.raises(ValueError):
        Memory.from_json({**old.to_json(), "scope": "the moon"})


def test_widen_and_narrow_phrases_are_read() -> None:
    assert read_scope_request("you can mention this anywhere").scope == "any"
    assert read_scope_request("it's not a secret").scope == "any"
    assert read_scope_request("keep that between us please").scope == "dm"
    assert read_scope_request("only in DMs ok?").scope == "dm"
    assert read_scope_request("don't mention it in the server").scope == "dm"
    request = read_scope_request("I got the job at Kestrel Labs, keep that between us")
    assert request.scope == "dm" and "keep" not in request.remainder and "Kestrel" in request.remainder
    assert read_scope_request("we kept the cat between the two chairs").scope is None


# ---- recall by place ---------------------------------------------------------------------------


def test_a_fact_told_in_a_dm_comes_back_only_in_dms(store: MemoryStore) -> None:
    store.observe(ALICE, "My favourite band is Radiohead", where="dm")
    query = "what is my favourite band?"
    assert mentions(recalled(store, query, "dm"), "radiohead")
    assert not mentions(recalled(store, query, A), "radiohead"), "a DM fact must never come back in a server"
    assert mentions(recalled(store, query, None), "radiohead"), "the owner's tools see everything"


def test_a_fact_told_in_server_a_comes_back_in_a_and_dms_but_not_in_b(store: MemoryStore) -> None:
    store.observe(ALICE, "My dog is called Biscuit", where=A)
    query = "what is my dog called?"
    assert mentions(recalled(store, query, A), "biscuit")
    assert mentions(recalled(store, query, "dm"), "biscuit")
    assert not mentions(recalled(store, query, B), "biscuit"), "a fact told in one server must not surface in another"


def test_the_filter_runs_before_the_k_cut(store: MemoryStore) -> None:
    # Many better-matching DM facts must not push the one server fact out of the server's top k.
    for toy in ("rope", "ball", "duck", "bone", "frisbee", "sock", "stick", "ring"):
        store.add(ALICE, f"Biscuit's favourite toy is the squeaky {toy}", scope="dm")
    store.add(ALICE, "Biscuit likes toys", scope=A)
    query = "which squeaky toy is Biscuit's favourite?"
    assert recalled(store, query, "dm")[0] != "Biscuit likes toys", "the DM facts must rank above the server one"
    hits = store.recall(ALICE, query, k=2, where=A)
    assert [h.text for h in hits] == ["Biscuit likes toys"], [(h.text, h.scope) for h in hits]


def test_saying_you_can_mention_this_anywhere_widens_the_previous_message(store: MemoryStore) -> None:
    store.observe(ALICE, "My dog is called Biscuit", where=A)
    result = store.observe(ALICE, "you can mention this anywhere", where=A)
    assert result.reply_hint == WIDENED_HINT
    assert mentions(recalled(store, "what is my dog called?", B), "biscuit"), "widened: it may come back in B"


def test_keep_that_between_us_narrows_to_dms(store: MemoryStore) -> None:
    store.observe(ALICE, "My sister is called Ana", where=A)
    result = store.observe(ALICE, "keep that between us", where=A)
    assert result.reply_hint == NARROWED_HINT
    assert not mentions(recalled(store, "what is my sister called?", A), "ana")
    assert mentions(recalled(store, "what is my sister called?", "dm"), "ana")


def test_a_request_in_the_same_message_scopes_its_own_facts(store: MemoryStore) -> None:
    store.observe(ALICE, "My cat is called Miso", where=A)
    store.observe(ALICE, "My salary is 90k, keep that between us", where=A)
    assert not mentions(recalled(store, "what is my salary?", A), "salary")
    assert mentions(recalled(store, "what is my cat called?", A), "miso"), "only that message's facts are narrowed"


def test_keep_that_between_us_narrows_a_fact_already_kept(store: MemoryStore) -> None:
    store.observe(ALICE, "My salary is 90k", where=A)
    store.observe(ALICE, "My salary is 90k, keep that between us", where=A)
    assert not mentions(recalled(store, "what is my salary?", A), "salary"), "the repeat narrows the kept fact"


def test_a_fact_repeated_in_another_server_comes_back_in_both(store: MemoryStore) -> None:
    store.observe(ALICE, "My dog is called Biscuit", where=A)
    store.observe(ALICE, "My dog is called Biscuit", where=B)
    assert mentions(recalled(store, "what is my dog called?", B), "biscuit")
    assert mentions(recalled(store, "what is my dog called?", A), "biscuit")
    assert not mentions(recalled(store, "what is my dog called?", "guild:333"), "biscuit")


def test_a_correction_takes_the_scope_of_where_it_was_said(store: MemoryStore) -> None:
    store.observe(ALICE, "I live in Lisbon", where=A)
    store.observe(ALICE, "I moved to Berlin", where="dm")
    assert not mentions(recalled(store, "where do I live?", A), "berlin"), "the DM correction must stay in DMs"


def test_a_preference_scopes_future_memories(store: MemoryStore) -> None:
    assert store.set_scope_preference(ALICE, "anywhere")
    store.observe(ALICE, "My dog is called Biscuit", where=A)
    assert mentions(recalled(store, "what is my dog called?", B), "biscuit")
    assert store.set_scope_preference(ALICE, "dm")
    store.observe(ALICE, "My cat is called Miso", where=A)
    assert not mentions(recalled(store, "what is my cat called?", A), "miso")
    assert not store.set_scope_preference("stranger", "dm"), "nothing is kept without consent"


# ---- export, import, map -----------------------------------------------------------------------


def test_export_shows_each_memorys_scope(store: MemoryStore) -> None:
    store.observe(ALICE, "My dog is called Biscuit", where=A)
    store.observe(ALICE, "My favourite band is Radiohead", where="dm")
    scopes = {m["text"]: m["scope"] for m in export_user(store, ALICE)["memories"]}
    assert A in scopes.values() and "dm" in scopes.values(), scopes


def test_import_takes_an_optional_scope_and_defaults_to_any(store: MemoryStore, tmp_path: Path) -> None:
    lines = [{"text": "has a turtle named Shelly"}, {"text": "works at Kestrel Labs", "scope": "dm"}]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    store.import_jsonl(ALICE, path)
    scopes = {m.text: m.scope for m in store.user_records(ALICE).memories}
    assert scopes == {"has a turtle named Shelly": "any", "works at Kestrel Labs": "dm"}
    assert mentions(recalled(store, "what is my turtle called?", B), "shelly")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps({"text": "x y", "scope": "everywhere"}))
    with pytest.raises(Exception, match="line 1: scope"):
        store.import_jsonl(ALICE, bad)


def test_the_map_marks_each_memorys_scope(store: MemoryStore) -> None:
    store.observe(ALICE, "My dog is called Biscuit", where=A)
    store.observe(ALICE, "My favourite band is Radiohead", where="dm")
    svg = memory_map(store, ALICE)
    assert 'data-scope="dm"' in svg and f'data-scope="{A}"' in svg
    assert "Only in DMs" in svg and "In a server" in svg, "the legend explains the scope marks"


def test_scopes_survive_a_restart(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=Clock()) as first:
        first.observe(ALICE, CONSENT)
        first.observe(ALICE, "My dog is called Biscuit", where=A)
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=Clock()) as again:
        assert [m.scope for m in again.user_records(ALICE).memories] == [A]
