"""Fact history: a correction keeps the old version with when it was true; recall reads only the current one."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.records import MAX_HISTORY, Memory, PastVersion
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
DAY = 24 * 3600.0
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def opened(root: Path, clock: Clock) -> MemoryStore:
    store = MemoryStore.open(root, EMBED_DIR, clock=clock)
    store.set_consent("u1", True)
    return store


def test_a_correction_keeps_the_old_version_with_when_it_was_true(tmp_path, clock):
    with opened(tmp_path, clock) as store:
        first = store.add("u1", "I live in Lisbon")
        clock.now += 10 * DAY
        second = store.add("u1", "I moved to Oslo")
        clock.now += 5 * DAY
        third = store.add("u1", "I live in Bergen now")
    assert first.action == "stored" and second.action == "updated" and third.action == "updated"
    memory = third.memory
    assert memory.id == first.id and memory.text == "I live in Bergen now"
    assert memory.history == (
        PastVersion("I live in Lisbon", T0, T0 + 10 * DAY),
        PastVersion("I moved to Oslo", T0 + 10 * DAY, T0 + 15 * DAY),
    )


def test_history_survives_a_restart_and_an_export_shows_it(tmp_path, clock):
    with opened(tmp_path, clock) as store:
        store.add("u1", "I work as a baker")
        clock.now += DAY
        store.add("u1", "I work as a pilot")
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=clock) as store:
        (exported,) = export_user(store, "u1")["memories"]
    assert exported["text"] == "I work as a pilot"
    assert exported["history"] == [{"text": "I work as a baker", "valid_from": T0, "valid_to": T0 + DAY}]


def test_recall_returns_only_the_current_version(tmp_path, clock):
    with opened(tmp_path, clock) as store:
        store.add("u1", "I live in Lisbon")
        clock.now += DAY
        store.add("u1", "I moved to Oslo")
        recalled = store.recall("u1", "where do I live? Lisbon or Oslo?", k=5)
    assert [r.text for r in recalled] == ["I moved to Oslo"], "an old version must not come back as a memory"


def test_a_repeat_of_the_current_fact_adds_no_history(tmp_path, clock):
    with opened(tmp_path, clock) as store:
        store.add("u1", "my cat is called Tom")
        clock.now += DAY
        repeat = store.add("u1", "my cat is called Tom")
    assert repeat.action == "duplicate" and repeat.memory.history == ()


def test_history_is_capped_and_keeps_the_latest_versions(tmp_path, clock):
    with opened(tmp_path, clock) as store:
        cities = [f"I live in Town{n}ville" for n in range(MAX_HISTORY + 3)]
        for city in cities:
            outcome = store.add("u1", city)
            clock.now += DAY
    history = outcome.memory.history
    assert len(history) == MAX_HISTORY
    assert [v.text for v in history] == cities[-MAX_HISTORY - 1 : -1], "the oldest versions go first"


def test_records_written_before_history_existed_still_load(tmp_path, clock):
    with opened(tmp_path, clock) as store:
        store.add("u1", "I play the oboe")
    journal = tmp_path / "memory" / "journal.jsonl"
    lines = []
    for line in journal.read_bytes().splitlines():
        event = orjson.loads(line)
        if event["op"] == "put":
            del event["memory"]["history"]  # the shape of a log from before this feature
        lines.append(orjson.dumps(event))
    journal.write_bytes(b"\n".join(lines) + b"\n")
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=clock) as store:
        (memory,) = store.memories("u1")
        assert memory.text == "I play the oboe" and memory.history == ()
        assert store.stats()["quarantined_lines"] == 0


def test_a_damaged_past_version_quarantines_its_line(tmp_path, clock, caplog):
    with opened(tmp_path, clock) as store:
        memory = store.add("u1", "I play the oboe").memory
    bad = {**memory.to_json(), "id": "badhistory", "label": 7, "history": [{"text": 5, "valid_from": 1}]}
    with (tmp_path / "memory" / "journal.jsonl").open("ab") as fh:
        fh.write(orjson.dumps({"op": "put", "memory": bad}) + b"\n")
    with caplog.at_level(logging.WARNING, logger="sel.memory"), MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert [m.id for m in store.memories("u1")] == [memory.id]
        assert store.stats()["quarantined_lines"] == 1


def test_past_versions_round_trip_through_the_stored_form():
    memory = Memory("m1", "u1", "now", (), False, 1.0, 2.0, 0, said_at=1.0, history=(PastVersion("then", 0.5, 1.0),))
    assert Memory.from_json(orjson.loads(orjson.dumps(memory.to_json()))) == memory
    with pytest.raises(ValueError):
        Memory.from_json({**memory.to_json(), "history": "not a list"})
