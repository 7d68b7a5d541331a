"""`sel bench memory`: insert throughput, index build and load time, recall latency and RSS at scale.

Runs against a throw-away data directory with generated, template-based memories
(distinct sentences, a realistic length), through the real MemoryStore, embedder and
index. With the defaults (100 000 memories over 1 000 users) it takes a few minutes,
most of it embedding.
"""

from __future__ import annotations

import gc
import logging
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sel.config import MemorySettings
    from sel.memory.embeddings import Embedder
    from sel.memory.store import MemoryStore

log = logging.getLogger(__name__)

TARGETS = {
    "recall_cached_p99_ms": 10.0,
    "recall_uncached_p99_ms": 15.0,
    "load_seconds": 2.0,
    "insert_per_second": 500.0,
}
RECALL_QUERIES = 500


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",")]


_NAMES = _items(
    "Anna,Ben,Carla,Dmitri,Elif,Farah,Gustav,Hana,Ivo,Jun,Kofi,Lena,Mateo,Nia,Omar,Priya,Quinn,Rosa,Sven,Tariq,"
    "Uma,Viktor,Wen,Ximena,Yusuf,Zoe,Aiko,Bruno,Chiara,Diego"
)
_GROUPS = _items("book club,climbing gym,choir,chess group,office,running club,pottery class,band,lab,football team")
_HABITS = _items(
    "bakes sourdough bread,brings homemade dumplings,tells terrible puns,plays the cello,forgets their keys,"
    "collects vintage maps,knits scarves for everyone,argues about tabs versus spaces,grows chili peppers,"
    "restores old bicycles,writes haiku,builds model ships,feeds the stray cats,organizes the board game night"
)
_WHEN = _items("every Sunday,on Fridays,each spring,after work,before dawn,at every meetup,during the holidays")
_ACTIVITIES = _items(
    "hiking,wild swimming,bouldering,birdwatching,night photography,cross-country skiing,kayaking,trail running,"
    "stargazing,foraging for mushrooms,sketching buildings,cycling along rivers,camping,fishing,sailing"
)
_PLACES = _items(
    "the Alps,Patagonia,the Scottish Highlands,Lapland,the Dolomites,Hokkaido,the Atlas Mountains,Tasmania,"
    "the Pyrenees,Iceland,the Carpathians,Yosemite,the Lake District,Crete,the Black Forest,Sardinia"
)
_SKILLS = _items(
    "Japanese,the violin,woodworking,Rust,watercolor painting,Portuguese,salsa dancing,calligraphy,"
    "electronics,sign language,chess openings,bread baking,the accordion,Python,pottery,astronomy"
)
_FOODS = _items(
    "spicy ramen,mango sticky rice,lentil soup,fresh figs,dark chocolate,pickled herring,baklava,"
    "grilled halloumi,mushroom risotto,kimchi pancakes,plum dumplings,smoked salmon,black olives"
)
_RELATIVES = _items("grandmother,uncle,cousin,sister,brother,aunt,godfather,niece,nephew,grandfather")
_OBJECTS = _items(
    "a red vespa,a broken telescope,an old typewriter,a cabin by a lake,a box of letters,a pet parrot,"
    "a vinyl collection,a greenhouse,a sailing boat,a pottery wheel,a vegetable allotment,a tandem bicycle"
)


def generate_texts(count: int, seed: int) -> list[str]:
    """``count`` distinct, realistic-length memory sentences from templates (deterministic for a seed)."""
    rng = random.Random(seed)
    templates: list[Callable[[], str]] = [
        lambda: f"{rng.choice(_NAMES)} from my {rng.choice(_GROUPS)} {rng.choice(_HABITS)} {rng.choice(_WHEN)}",
        lambda: f"I love {rng.choice(_ACTIVITIES)} in {rng.choice(_PLACES)} with my {rng.choice(_RELATIVES)}",
        lambda: f"I have been learning {rng.choice(_SKILLS)} since {rng.randint(1990, 2025)} with {rng.choice(_NAMES)}",
        lambda: f"Last year I visited {rng.choice(_PLACES)} and ate {rng.choice(_FOODS)} every day",
        lambda: (
            f"My {rng.choice(_RELATIVES)} {rng.choice(_NAMES)} owns {rng.choice(_OBJECTS)} near {rng.choice(_PLACES)}"
        ),
        lambda: f"I enjoy {rng.choice(_FOODS)} after {rng.choice(_ACTIVITIES)} {rng.choice(_WHEN)}",
    ]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        text = rng.choice(templates)()
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def run_memory_bench(
    settings: MemorySettings, *, memories: int = 100_000, users: int = 1_000, queries: int = RECALL_QUERIES
) -> dict[str, Any]:
    """Measure the memory store at scale in a temp data dir; return the figures (and the targets they meet)."""
    from sel.memory.embeddings import shared_embedder

    per_user = max(1, memories // users)
    user_ids = [f"bench-{i:05d}" for i in range(users)]
    result: dict[str, Any] = {"memories_requested": per_user * users, "users": users}
    with tempfile.TemporaryDirectory(prefix="sel-memory-bench-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        embedder = shared_embedder(settings.embed_model)
        embedder.embed_query("warm up")
        result["embedder_load_seconds"] = round(time.perf_counter() - started, 3)
        result.update(_fill(data_dir, settings.embed_model, user_ids, per_user))
        store, load_figures = _reopen(data_dir, settings.embed_model)
        result.update(load_figures)
        try:
            result.update(_index_figures(store, embedder))
            result.update(_recall_figures(store, embedder, user_ids, queries))
        finally:
            store.close()
    result["rss_mb"] = round(_rss_bytes() / 2**20, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["targets"] = TARGETS
    result["meets_targets"] = _meets_targets(result)
    return result


def _fill(data_dir: Path, embed_model: Path, user_ids: list[str], per_user: int) -> dict[str, Any]:
    """Insert ``per_user`` generated memories for each user, then close the store (saving its index)."""
    from sel.memory.store import MemoryStore

    store = MemoryStore.open(data_dir, embed_model)
    started = time.perf_counter()
    for i, user_id in enumerate(user_ids):
        store.set_consent(user_id, True)
        store.add_many(user_id, generate_texts(per_user, seed=i))
        if (i + 1) % max(1, len(user_ids) // 10) == 0:
            log.info("bench: inserted memories for %d of %d users", i + 1, len(user_ids))
    insert_seconds = time.perf_counter() - started
    figures = {
        "memories_stored": store.stats()["memories"],  # near-duplicates merge: can be a little below requested
        "insert_seconds": round(insert_seconds, 2),
        "insert_per_second": round(per_user * len(user_ids) / insert_seconds, 1),
    }
    started = time.perf_counter()
    store.close()
    figures["snapshot_save_seconds"] = round(time.perf_counter() - started, 3)
    return figures


def _reopen(data_dir: Path, embed_model: Path) -> tuple[MemoryStore, dict[str, Any]]:
    """The store opened again from disk, with how long that took and the memory it holds."""
    from sel.memory.store import MemoryStore

    gc.collect()
    rss_before = _rss_bytes()
    started = time.perf_counter()
    store = MemoryStore.open(data_dir, embed_model)
    figures = {
        "load_seconds": round(time.perf_counter() - started, 3),
        "store_rss_mb": round((_rss_bytes() - rss_before) / 2**20, 1),
    }
    return store, figures


def _index_figures(store: MemoryStore, embedder: Embedder) -> dict[str, Any]:
    """How long building the vector index and re-embedding every memory would take."""
    from sel.memory.index import VectorIndex

    index = store.index
    labels = [label for label in range(index.extent) if index.is_live(label)]
    vectors = index.vectors(labels)
    started = time.perf_counter()
    VectorIndex(vectors.shape[1], capacity=len(labels)).put(labels, vectors, threads=2)
    build_seconds = round(time.perf_counter() - started, 2)
    sample = generate_texts(min(1000, len(labels)), seed=-1)
    started = time.perf_counter()
    embedder.embed_documents(sample)
    embed_rate = len(sample) / (time.perf_counter() - started)
    return {
        "index_build_seconds": build_seconds,
        "embed_per_second": round(embed_rate, 1),
        # A rebuild from the records (index missing or damaged) re-embeds every memory, then builds the graph.
        "rebuild_from_records_estimate_seconds": round(store.stats()["memories"] / embed_rate + build_seconds, 1),
    }


def _recall_figures(store: MemoryStore, embedder: Embedder, user_ids: list[str], queries: int) -> dict[str, Any]:
    """Recall latencies with the query-embedding cache empty, then full, then on the filtered graph search."""
    from sel.memory.index import EXACT_SEARCH_FRACTION

    rng = random.Random(1)
    workload = [(rng.choice(user_ids), query) for query in _distinct_queries(rng, queries)]
    index = store.index

    def recall(user_id: str, query: str) -> object:
        return store.recall(user_id, query, k=5)

    embedder.clear_cache()
    figures: dict[str, Any] = {"recall_uncached_ms": _latencies(recall, workload)}
    figures["recall_cached_ms"] = _latencies(recall, workload)
    figures["recall_path"] = index.last_search_path
    # The filtered graph search (used when a user owns a large share of the index), forced for comparison.
    index.exact_fraction = 0.0
    figures["recall_graph_filter_cached_ms"] = _latencies(recall, workload)
    index.exact_fraction = EXACT_SEARCH_FRACTION
    figures["journal_bytes"] = store.stats()["journal_bytes"]
    figures["index_bytes"] = sum(p.stat().st_size for p in (store.root / "index").iterdir())
    return figures


def _meets_targets(result: dict[str, Any]) -> dict[str, bool]:
    return {
        "recall_cached_p99_ms": result["recall_cached_ms"]["p99"] <= TARGETS["recall_cached_p99_ms"],
        "recall_uncached_p99_ms": result["recall_uncached_ms"]["p99"] <= TARGETS["recall_uncached_p99_ms"],
        "load_seconds": result["load_seconds"] <= TARGETS["load_seconds"],
        "insert_per_second": result["insert_per_second"] >= TARGETS["insert_per_second"],
    }


def _distinct_queries(rng: random.Random, count: int) -> list[str]:
    """Questions that are all different, so the first pass really misses the query-embedding cache."""
    subjects = [*_ACTIVITIES, *_SKILLS, *_FOODS, *_PLACES, *_RELATIVES, *_GROUPS, *_OBJECTS]
    openers = ("what do you know about", "tell me about", "do I like", "what did I say about", "remind me of")
    seen: dict[str, None] = {}
    while len(seen) < count:
        query = f"{rng.choice(openers)} {rng.choice(subjects)} and {rng.choice(_NAMES)} {rng.randint(1, 99)}?"
        seen.setdefault(query, None)
    return list(seen)


def _latencies(call: Callable[[str, str], object], queries: list[tuple[str, str]]) -> dict[str, float]:
    times = []
    for user_id, query in queries:
        started = time.perf_counter()
        call(user_id, query)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50": round(statistics.median(times), 3),
        "p99": round(times[min(len(times) - 1, int(0.99 * len(times)))], 3),
        "max": round(times[-1], 3),
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()
