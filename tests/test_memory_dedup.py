"""Distinct memories are never merged; true repeats are; counts and replies say what really happened.

The duplicate rule is checked as a pure function, then through the real store (fastembed MiniLM,
hnswlib) and once through the brain with a real (tiny) llama.cpp engine.
"""

from __future__ import annotations

import itertools
import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sel.brain import Brain
from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.domain import IncomingMessage
from sel.llm.engine import Engine
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.observe import ALREADY_KNOWN_HINT, REMEMBERED_HINT, UPDATED_HINT
from sel.memory.ranking import MIN_SIMILARITY
from sel.memory.sameness import NEAR_DUPLICATE_SIMILARITY, same_fact
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
T0 = 1_700_000_000.0


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def store(tmp_path: Path):
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: T0) as opened:
        opened.set_consent("u1", True)
        yield opened


def exported(store: MemoryStore, user_id: str = "u1") -> list[dict]:
    return export_user(store, user_id)["memories"]


# -- the rule, as a pure function ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("oh, btw, I have a cat", "I have a cat."),
        ("I live in Lisbon", "i live in lisbon!!"),
        ("remember that my turtle is called Shelly", "My turtle is called Shelly lol"),
        ("I’m a nurse", "I am a nurse"),
        ("I have two cats", "I have 2 cats"),
        ("My birthday is May 3rd", "my birthday is may 3"),
    ],
)
def test_true_repeats_are_the_same_fact_whatever_the_cosine(a, b):
    assert same_fact(a, b, cosine=0.5), f"{a!r} restates {b!r}"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("carol saw an otter in Lisbon on trip 5", "carol saw an otter in Lisbon on trip 6"),
        ("carol saw an otter in Lisbon on trip 5", "carol saw an otter in Porto on trip 5"),
        ("carol saw an otter in Lisbon on trip 5", "carol saw a heron in Lisbon on trip 5"),
        ("my friend Ana bakes bread", "my friend Ines bakes bread"),
        ("my birthday is May 3", "my birthday is May 4"),
        ("my birthday is May 3", "my birthday is June 3"),
        ("my gpa is 3.5", "my gpa is 5.3"),
        ("I love cats", "I hate cats"),
        ("I moved to Lisbon", "I moved from Lisbon"),
        ("Tom is older than Ann", "Ann is older than Tom"),
        ("carol fact number 7 about topic 3", "carol fact number 3 about topic 7"),
    ],
)
def test_facts_that_differ_in_a_detail_are_never_the_same_even_at_high_cosine(a, b):
    assert not same_fact(a, b, cosine=0.99), f"{a!r} and {b!r} are different facts"


def test_reordered_words_need_the_embeddings_to_agree():
    a, b = "I have a cat and a dog", "I have a dog and a cat"
    assert same_fact(a, b, cosine=NEAR_DUPLICATE_SIMILARITY)
    assert not same_fact(a, b, cosine=NEAR_DUPLICATE_SIMILARITY - 0.01)


# -- the store ---------------------------------------------------------------------------------------


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def trip_facts(count: int) -> list[str]:
    animals = ["otter", "heron", "lynx", "seal", "fox", "owl", "stork", "boar", "ibex", "hare"]
    places = ["Lisbon", "Porto", "Madrid", "Seville", "Faro", "Braga", "Bilbao", "Granada"]
    hobbies = ["pottery", "sketching", "birdwatching", "kayaking", "hiking", "knitting"]
    combos = list(itertools.product(animals, places, hobbies))
    random.Random(5).shuffle(combos)
    return [f"carol saw an {a} in {p} while doing {h} on trip {i}" for i, (a, p, h) in enumerate(combos[:count], 1)]


@pytest.mark.parametrize(
    "facts",
    [trip_facts(300), [f"carol fact number {n} about topic {n % 7}" for n in range(300)]],
    ids=["trips", "numbered"],
)
def test_importing_300_distinct_facts_stores_300_and_says_so(store, tmp_path, facts):
    result = store.import_jsonl("u1", write_jsonl(tmp_path / "facts.jsonl", facts))
    assert (result.lines, result.count("stored"), result.count("duplicate"), result.count("updated")) == (
        300,
        300,
        0,
        0,
    )
    assert sorted(m["text"] for m in exported(store)) == sorted(facts), "every distinct fact is kept as it was"
    again = store.import_jsonl("u1", write_jsonl(tmp_path / "again.jsonl", facts))
    assert again.count("duplicate") == 300 and len(exported(store)) == 300, "a second import adds nothing"
    assert {o.id for o in again.outcomes} == {m["id"] for m in exported(store)}, "each names the memory it repeats"


def test_a_true_repeat_is_a_duplicate_of_the_kept_memory_and_changes_nothing(store):
    first = store.add("u1", "I collect vintage maps of Lisbon")
    assert first.action == "stored"
    for repeat in ("oh, btw, I collect vintage maps of Lisbon!", "i collect VINTAGE maps of lisbon."):
        outcome = store.add("u1", repeat)
        assert (outcome.action, outcome.id) == ("duplicate", first.id), repeat
    [kept] = exported(store)
    assert (kept["text"], kept["version"]) == ("I collect vintage maps of Lisbon", 1)


def test_a_repeat_asking_for_permanence_makes_the_kept_memory_permanent(store):
    first = store.add("u1", "I restore old bicycles")
    assert first.memory is not None and not first.memory.hard
    outcome = store.add("u1", "I restore old bicycles.", hard=True)
    assert (outcome.action, outcome.id) == ("duplicate", first.id)
    assert [m["hard"] for m in exported(store)] == [True]


def test_a_correction_in_the_same_slot_updates_that_memory(store):
    lisbon = store.add("u1", "I live in Lisbon")
    oslo = store.add("u1", "I moved to Oslo")
    assert (oslo.action, oslo.id, oslo.previous_text) == ("updated", lisbon.id, "I live in Lisbon")
    assert [m["text"] for m in exported(store)] == ["I moved to Oslo"]
    assert store.add("u1", "i moved to oslo!").action == "duplicate"


@pytest.mark.parametrize(
    ("template", "query", "details"),
    [
        ("carol saw an otter in Lisbon while doing pottery on trip {}", "trip {}", range(1, 101)),
        ("my friend {} bakes sourdough bread every Sunday", "what does {} bake?", None),
    ],
    ids=["numbers", "names"],
)
def test_each_of_many_facts_is_recalled_first_by_the_detail_that_sets_it_apart(store, template, query, details):
    details = list(details or NAMES)
    facts = [template.format(detail) for detail in details]
    store.add_many("u1", facts)
    missed = [
        (query.format(detail), recalled)
        for detail, fact in zip(details, facts, strict=True)
        if (recalled := [r.text for r in store.recall("u1", query.format(detail), k=1)]) != [fact]
    ]
    assert missed == [], f"these queries recalled the wrong fact first: {missed[:5]}"


def test_a_memory_naming_the_querys_detail_is_found_even_when_the_embedding_ranks_it_low(store, embedder):
    places = ["Lisbon", "Porto", "Madrid", "Seville", "Faro", "Braga", "Bilbao", "Granada", "Cadiz", "Evora"]
    trips = [f"carol's {kind} trip to {place} was wonderful" for kind in ("first", "long", "rainy") for place in places]
    named = "carol saw a seal in Granada while doing kayaking on trip 1"
    cosines = embedder.embed_documents([*trips, named]) @ embedder.embed_query("trip 1")
    assert (cosines > cosines[-1]).sum() >= 20 and cosines[-1] < MIN_SIMILARITY, "the embedding alone must miss it"
    store.add_many("u1", [*trips, named])
    assert [r.text for r in store.recall("u1", "trip 1", k=3)][:1] == [named]


NUMBERED = [
    ("carol saw an otter in Lisbon while doing pottery on trip {}", "trip {}"),
    ("we stayed in room {} of the Hotel Miramar in Faro", "room {}"),
    ("bus line {} takes me to the climbing gym", "bus {}"),
]
NAMED = [
    ("my friend {} bakes sourdough bread every Sunday", "what does {} bake?"),
    ("carol met {} at the pottery class in Lisbon", "when did carol meet {}?"),
]
NAMES = (
    "Ana Bruno Chiara Dmitri Elif Farah Gustav Hana Ivo Jun Kofi Lena Mateo Nia Omar Priya Quinn Rosa Sven Tariq "
    "Uma Viktor Wen Ximena Yusuf Zoe Aiko Diego Ines Tomas".split()
)
numbered_facts = st.tuples(
    st.sampled_from(NUMBERED), st.lists(st.integers(1, 400), min_size=2, max_size=12, unique=True)
)
named_facts = st.tuples(st.sampled_from(NAMED), st.lists(st.sampled_from(NAMES), min_size=2, max_size=10, unique=True))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.one_of(numbered_facts, named_facts), repeat=st.integers(0, 11))
def test_facts_differing_in_one_number_or_name_all_survive_and_are_recalled_by_it(case, repeat):
    (template, query), details = case
    facts = [template.format(detail) for detail in details]
    with tempfile.TemporaryDirectory() as tmp, MemoryStore.open(Path(tmp), EMBED_DIR, clock=lambda: T0) as store:
        store.set_consent("u1", True)
        outcomes = store.add_many("u1", facts)
        assert [o.action for o in outcomes] == ["stored"] * len(facts)
        assert sorted(m["text"] for m in exported(store)) == sorted(facts)
        for detail, fact in zip(details, facts, strict=True):
            recalled = store.recall("u1", query.format(detail), k=1)
            assert [r.text for r in recalled] == [fact], f"{query.format(detail)!r} should recall {fact!r} first"
        restated = facts[repeat % len(facts)]
        outcome = store.add("u1", f"btw, {restated.upper()}!")
        assert (outcome.action, outcome.id) == ("duplicate", outcomes[repeat % len(facts)].id)
        assert len(exported(store)) == len(facts)


# -- what the user is told ---------------------------------------------------------------------------


def test_an_explicit_request_is_told_what_was_stored_updated_or_already_known(store):
    result = store.observe("u1", "remember that I have a cat named Tom")
    assert [o.action for o in result.outcomes] == ["stored"]
    assert result.reply_hint == REMEMBERED_HINT.format(texts='"I have a cat named Tom"')
    result = store.observe("u1", "remember that I have a cat named Tom!")
    assert [o.action for o in result.outcomes] == ["duplicate"] and result.stored == []
    assert result.reply_hint == ALREADY_KNOWN_HINT.format(texts='"I have a cat named Tom"')
    result = store.observe("u1", "please remember that my cat is called Felix")
    assert [o.action for o in result.outcomes] == ["updated"]
    assert result.reply_hint == UPDATED_HINT.format(changes='"I have a cat named Tom" is now "My cat is called Felix"')
    assert [m["text"] for m in exported(store)] == ["My cat is called Felix"]


@pytest.fixture
async def brain_parts(make_settings):
    settings = make_settings()
    engine = Engine(settings)
    plans = []

    class Recording:
        def stream(self, slot, plan, **kw):
            plans.append(plan)
            return engine.stream(slot, plan, **kw)

    memory = MemoryStore.open(settings.data_dir, settings.embed_model)
    yield Brain(settings, Recording(), memory), plans
    engine.close()
    memory.close()


async def test_the_bot_is_told_when_a_fact_was_already_known(brain_parts):
    brain, plans = brain_parts

    async def say(text: str) -> None:
        msg = IncomingMessage(author_id="id-mia", author_name="mia", channel_id="general", text=text, mentioned=True)
        async for _ in brain.respond(msg, (), brain.decide(msg)):
            pass

    await say("you can remember stuff about me")
    await say("remember that my sister is called Ana")
    assert REMEMBERED_HINT.format(texts='"My sister is called Ana"') in plans[-1].late_note
    await say("remember that my sister is called Ana")
    assert ALREADY_KNOWN_HINT.format(texts='"My sister is called Ana"') in plans[-1].late_note


def test_forgetting_a_user_also_empties_the_caches_of_memory_texts(store):
    from sel.memory import details

    store.add("u1", "my friend Zebulon bakes sourdough bread")
    store.recall("u1", "what does Zebulon bake?")
    caches = (details._searchable, details._word_set)  # private, but only a test can look inside
    assert all(cache.cache_info().currsize > 0 for cache in caches), "recall reads the texts through the caches"
    store.forget("u1")
    assert [cache.cache_info().currsize for cache in caches] == [0, 0], "a forgotten user's text stays in RAM"
