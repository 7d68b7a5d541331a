"""The periodic pruner task and the benchmark's plumbing (not its speed: that is `sel bench memory`)."""

from __future__ import annotations

import asyncio

import pytest

from sel.cli.bench_memory import generate_texts, run_memory_bench
from sel.config import DEFAULT_EMBED_DIR, default_models_dir, load_settings
from sel.memory.export import export_user
from sel.memory.pruner import run_pruner
from sel.memory.retention import SOFT_TTL_SECONDS
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR


async def test_pruner_deletes_expired_memories_in_the_background_until_cancelled(tmp_path):
    now = [1_700_000_000.0]
    store = MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: now[0])
    try:
        store.set_consent("u1", True)
        store.add("u1", "I am reading a novel about whales")
        store.add("u1", "My name is Ishmael")  # a name is an important personal fact: permanent
        task = asyncio.create_task(run_pruner(store, interval=0.01))
        await asyncio.sleep(0.05)
        assert len(export_user(store, "u1")["memories"]) == 2, "nothing has expired yet"
        now[0] += SOFT_TTL_SECONDS + 1
        for _ in range(200):  # prune and checkpoint run one after the other in worker threads
            if len(export_user(store, "u1")["memories"]) == 1 and store.stats()["unsaved_index_changes"] == 0:
                break
            await asyncio.sleep(0.01)
        assert [m["text"] for m in export_user(store, "u1")["memories"]] == ["My name is Ishmael"]
        assert store.stats()["unsaved_index_changes"] == 0, "the pruner also checkpoints the index"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        store.close()


def test_generated_bench_texts_are_distinct_and_deterministic():
    texts = generate_texts(300, seed=9)
    assert len(set(texts)) == 300
    assert texts == generate_texts(300, seed=9)
    assert texts != generate_texts(300, seed=10)


def test_the_benchmark_runs_end_to_end_on_a_small_workload(tmp_path):
    settings = load_settings({"SEL_DATA_DIR": str(tmp_path), "SEL_EMBED_MODEL": str(EMBED_DIR)})
    result = run_memory_bench(settings.memory, memories=90, users=3, queries=20)
    assert result["memories_requested"] - 10 <= result["memories_stored"] <= result["memories_requested"]
    for key in ("recall_cached_ms", "recall_uncached_ms", "recall_graph_filter_cached_ms"):
        assert 0 < result[key]["p50"] <= result[key]["p99"] <= result[key]["max"], key
    assert result["insert_per_second"] > 0 and result["load_seconds"] > 0 and result["rss_mb"] > 0
    assert set(result["meets_targets"]) == set(result["targets"])
    assert not any(tmp_path.iterdir()), "the benchmark works in its own temp dir, not the data dir"
