"""When a memory was said: the `said_at` field, and recall steered by time words ("yesterday", "in May")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.records import Memory
from sel.memory.store import MemoryStore
from sel.memory.when import time_window

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
DAY = 24 * 3600.0
# Wednesday 9 April 2025, 18:00 UTC.
NOW = datetime(2025, 4, 9, 18, 0, tzinfo=UTC).timestamp()


def _day(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("what did I tell you yesterday?", "2025-04-08", "2025-04-09"),
        ("what did we talk about last night", "2025-04-08", "2025-04-09"),
        ("what did I say two days ago", "2025-04-07", "2025-04-08"),
        ("anything from 3 days ago?", "2025-04-06", "2025-04-07"),
        ("what did I do last week", "2025-03-31", "2025-04-07"),
        ("what happened this week", "2025-04-07", "2025-04-10"),
        ("where did I go in March", "2025-03-01", "2025-04-01"),
        ("what did I do in May", "2024-05-01", "2024-06-01"),  # May has not come yet this year: last May
        ("what did I do in May 2023", "2023-05-01", "2023-06-01"),
        ("what did I say last month", "2025-03-01", "2025-04-01"),
        ("what did I say on Monday", "2025-04-07", "2025-04-08"),
        ("what did I say last Wednesday", "2025-04-02", "2025-04-03"),
    ],
)
def test_time_words_name_the_right_window(query: str, start: str, end: str) -> None:
    assert time_window(query, NOW, UTC) == (_day(start), _day(end))


def test_this_morning_is_todays_morning() -> None:
    assert time_window("what did I tell you this morning", NOW, UTC) == (
        _day("2025-04-09") + 5 * 3600,
        _day("2025-04-09") + 12 * 3600,
    )


def test_two_weeks_ago_is_roughly_two_weeks_ago() -> None:
    start, end = time_window("what did I say two weeks ago", NOW, UTC) or (0.0, 0.0)
    assert start <= _day("2025-03-26") < end


@pytest.mark.parametrize(
    "query", ["when did I start my new job?", "where do I work?", "may I ask what my cat is called", ""]
)
def test_no_time_words_no_window(query: str) -> None:
    assert time_window(query, NOW, UTC) is None


def test_yesterday_starts_at_local_midnight() -> None:
    tokyo = timezone(timedelta(hours=9))  # 18:00 UTC is already 03:00 on the 10th in Tokyo
    assert time_window("yesterday", NOW, tokyo) == (
        datetime(2025, 4, 9, tzinfo=tokyo).timestamp(),
        datetime(2025, 4, 10, tzinfo=tokyo).timestamp(),
    )


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def store(tmp_path: Path):
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as opened:
        opened.set_consent("u1", True, now=NOW - 30 * DAY)
        yield opened


def test_said_at_is_the_message_time_and_survives_replay_and_export(store: MemoryStore, tmp_path: Path) -> None:
    said = NOW - 3 * DAY
    outcome = store.add("u1", "my car broke down on the motorway", now=said)
    assert outcome.memory.said_at == said
    store.close()
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as reopened:
        (exported,) = export_user(reopened, "u1")["memories"]
        assert exported["said_at"] == said, "said_at must survive journal replay and show in the export"


def test_said_at_of_an_import_is_its_created_at(store: MemoryStore, tmp_path: Path) -> None:
    created = NOW - 100 * DAY
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "I grew up in Tallinn", "created_at": created}) + "\n")
    store.import_jsonl("u1", path, now=NOW)
    (memory,) = store.user_records("u1").memories
    assert memory.when_said == created


def test_a_journal_without_said_at_loads_and_counts_created_at(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as first:
        first.set_consent("u1", True, now=NOW)
        first.add("u1", "my favourite tree is the rowan", now=NOW - DAY)
    journal = tmp_path / "memory" / "journal.jsonl"
    lines = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    for event in lines:
        if event["op"] == "put":
            del event["memory"]["said_at"]  # as written before the field existed
            event["memory"]["created_at"] = NOW - 5 * DAY
    journal.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in lines))
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as reopened:
        (memory,) = reopened.user_records("u1").memories
        assert memory.when_said == NOW - 5 * DAY
        assert reopened.stats()["quarantined_lines"] == 0


def test_a_memory_built_without_said_at_reads_created_at() -> None:
    memory = Memory("m1", "u1", "text", (), False, 5.0, 6.0, label=0)
    assert memory.when_said == 5.0
    assert Memory.from_json(memory.to_json()).said_at == 5.0


def test_time_words_pick_the_memory_said_in_that_window(store: MemoryStore) -> None:
    store.add("u1", "I took the car to the garage for new brakes", now=NOW - 20 * DAY)
    store.add("u1", "I took the car to the garage for an oil change", now=NOW - DAY)
    for i in range(20):
        store.add("u1", f"the garage on street {i} sells spare tyres for cars", now=NOW - (30 + i) * DAY)
    store.touch("u1", now=NOW)
    (best,) = store.recall("u1", "what did I do with the car yesterday?", k=1)
    assert "oil change" in best.text, f"the memory said yesterday should come first, got {best.text!r}"
    (best,) = store.recall("u1", "what did I do with the car three weeks ago?", k=1)
    assert "brakes" in best.text, f"the memory said three weeks ago should come first, got {best.text!r}"


def test_yesterday_is_the_owners_yesterday_in_sel_timezone(tmp_path: Path) -> None:
    # 2025-04-09 18:00 UTC is already the 10th, 08:00 in Kiritimati (UTC+14): its "yesterday" is
    # 04-08 10:00 to 04-09 10:00 UTC, not the UTC day before.
    from zoneinfo import ZoneInfo

    utc_yesterday, kiritimati_yesterday = _day("2025-04-08") + 5 * 3600, _day("2025-04-09") + 5 * 3600
    for zone, expected in (("UTC", "oil change"), ("Pacific/Kiritimati", "new brakes")):
        with MemoryStore.open(tmp_path / zone.replace("/", "-"), EMBED_DIR, tz=ZoneInfo(zone)) as store:
            store.set_consent("u1", True, now=NOW - 30 * DAY)
            store.add("u1", "I took the car to the garage for an oil change", now=utc_yesterday)
            store.add("u1", "I took the car to the garage for new brakes", now=kiritimati_yesterday)
            (best,) = store.recall("u1", "what did I do with the car yesterday?", k=1, now=NOW)
            assert expected in best.text, f"in {zone}, yesterday's memory should come first, got {best.text!r}"
