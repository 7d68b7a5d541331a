"""The one-pass detail scan recall uses to find every memory naming a query's numbers, names and dates."""

from __future__ import annotations

from sel.memory.details import named_share, query_details
from sel.memory.keyword_index import UserKeywords
from sel.memory.records import Memory

NOW = 1_750_000_000.0
TEXTS = [
    "Ana bakes bread on Sundays",  # the name opens the text
    "my brother lives in Lisbon",
    "trip 17 was to the coast",
    "I ran my 2nd marathon in May",
    "we have two cats and a dog",
    "the 017th edition of the fair",
    "carol saw an otter on trip 5",
    "O'Brien lent me a ladder",
    "meeting moved to 12:30 on Friday",
    "nothing specific here at all",
]
QUERIES = [
    "What does Ana bake?",
    "What happened on trip 17?",
    "Tell me about trip 5",
    "my 2nd marathon?",
    "do I have 2 pets?",
    "anything about OBrien?",
    "what is at 12:30?",
    "Where does my brother live, Lisbon or Porto?",
    "what did I do in May?",
]


def _memory(label: int, text: str, version: int = 1) -> Memory:
    return Memory(f"m{label}", "u1", text, (), False, NOW, NOW, label, version)


def _named(memories: dict[str, Memory], query: str) -> set[int]:
    details = query_details(query)
    return {m.label for m in memories.values() if named_share(details, m.text) > 0}


def test_the_scan_finds_every_memory_that_names_a_detail_of_the_query() -> None:
    memories = {m.id: m for m in (_memory(label, text) for label, text in enumerate(TEXTS))}
    index = UserKeywords()
    index.sync(memories)
    everything = set(range(len(TEXTS)))
    for query in QUERIES:
        named = _named(memories, query)
        assert named, f"the fixture names something of {query!r}"
        found = index.naming(query_details(query), everything)
        assert named <= found, f"{query!r}: missed {named - found}"
        assert len(found - named) <= 1, f"{query!r}: the scan is a near-exact pre-test, found {found}"
    assert index.naming(query_details("What does Ana bake?"), {1, 2}) == set(), "only allowed labels come back"


def test_the_scan_follows_updates_and_deletes() -> None:
    memories = {m.id: m for m in (_memory(label, text) for label, text in enumerate(TEXTS))}
    index = UserKeywords()
    index.sync(memories)
    trip = query_details("trip 17")
    assert index.naming(trip, set(range(len(TEXTS)))) == {2, 5}, "017th names 17 too"
    memories["m10"] = _memory(10, "photos from trip 17 are on the laptop")  # a new memory
    index.sync(memories)
    assert index.naming(trip, set(range(11))) == {2, 5, 10}
    memories["m9"] = _memory(9, "trip 17 had rain all week", version=2)  # updated in place
    del memories["m2"]
    index.sync(memories)
    assert index.naming(trip, set(range(11))) == {5, 9, 10}
