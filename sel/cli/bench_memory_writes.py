"""The write half of `sel bench memory`: import throughput, single adds, and a full index rebuild, all measured.

* Import: each user's generated memories go through ``MemoryStore.import_jsonl`` from a JSON-lines
  file, as `sel memory import` does (files written before the clock starts).
* Single adds: ``MemoryStore.add`` one memory at a time (one embedding and one fsync each), as chat does.
* Rebuild: the index folder is deleted and the store opened again, which re-embeds every memory
  from its records in batches and rebuilds the graph; the time is measured, not extrapolated.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from sel.cli.bench_memory_texts import generate_texts

if TYPE_CHECKING:
    from sel.memory.store import MemoryStore

log = logging.getLogger(__name__)

SINGLE_ADDS = 200  # memories stored one at a time for the single-add rate


def fill_by_import(data_dir: Path, embed_model: Path, counts: dict[str, int]) -> dict[str, Any]:
    """Import ``counts[user]`` generated memories for each user, then close the store (saving its index)."""
    from sel.memory.store import MemoryStore

    files = _import_files(data_dir / "imports", counts)
    store = MemoryStore.open(data_dir, embed_model)
    started, cpu_started = time.perf_counter(), time.process_time()
    for i, (user_id, path) in enumerate(files):
        store.set_consent(user_id, True)
        store.import_jsonl(user_id, path)
        if (i + 1) % max(1, len(files) // 10) == 0:
            log.info("bench: imported memories for %d of %d users", i + 1, len(files))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    shutil.rmtree(data_dir / "imports")
    requested = sum(counts.values())
    figures = {
        "memories_stored": store.stats()["memories"],  # near-duplicates merge: can be a little below requested
        "import_seconds": round(seconds, 2),
        "insert_per_second": round(requested / seconds, 1),
        # CPU time of all this process's threads: what the cores can do at best is cores * 1000 / this.
        "import_cpu_ms_per_memory": round(cpu_seconds * 1000 / requested, 2),
    }
    started = time.perf_counter()
    store.close()
    figures["snapshot_save_seconds"] = round(time.perf_counter() - started, 3)
    return figures


def _import_files(folder: Path, counts: dict[str, int]) -> list[tuple[str, Path]]:
    folder.mkdir()
    files = []
    for i, (user_id, count) in enumerate(counts.items()):
        path = folder / f"{user_id}.jsonl"
        path.write_bytes(b"".join(orjson.dumps({"text": text}) + b"\n" for text in generate_texts(count, seed=i)))
        files.append((user_id, path))
    return files


def single_add_figures(store: MemoryStore, user_ids: list[str], count: int = SINGLE_ADDS) -> dict[str, Any]:
    """Memories per second stored one ``add`` at a time into the full store (embedding and fsync each)."""
    rng = random.Random(2)
    texts = generate_texts(count, seed=-2)
    started = time.perf_counter()
    for text in texts:
        store.add(rng.choice(user_ids), text)
    return {"insert_single_per_second": round(count / (time.perf_counter() - started), 1)}


def rebuild_figures(data_dir: Path, embed_model: Path) -> dict[str, Any]:
    """Delete the index and time opening the store, which rebuilds it from the records (measured, not estimated)."""
    from sel.memory.store import MemoryStore

    shutil.rmtree(data_dir / "memory" / "index")
    started = time.perf_counter()
    store = MemoryStore.open(data_dir, embed_model)
    seconds = time.perf_counter() - started
    try:
        rebuilt = store.stats()["index_live"]
    finally:
        store.close()
    return {
        "rebuild_memories": rebuilt,
        "rebuild_seconds": round(seconds, 2),
        "rebuild_per_second": round(rebuilt / seconds, 1) if seconds else 0.0,
    }
