"""Batched writes: an import (embedded and written in batches) stores and recalls exactly what one-by-one adds do,
and an index rebuilt from the records in batches recalls what the original index recalled."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from sel.cli.bench_memory_texts import generate_texts
from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.core import STORE_BATCH
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
USER = "42"
NOW = 1e9
QUERIES = (
    "what is my cat called?",
    "where do I like hiking?",
    "what am I learning?",
    "what did I eat on holiday?",
    "who bakes bread?",
)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """More than one batch of memories, with a slot update and repeats that cross the batch boundary."""
    out = generate_texts(STORE_BATCH + 60, seed=11)
    out[10] = "My cat is called Tom"
    out[STORE_BATCH + 5] = "My cat is called Felix"  # the same slot, a batch later: an update
    out[STORE_BATCH + 6] = out[20]  # said again a batch later: a duplicate
    out[-1] = out[STORE_BATCH - 1]  # the last line of the first batch, again in the last batch
    return out


def _recalled(store: MemoryStore) -> list[list[tuple[str, float]]]:
    found = [[(r.text, round(r.similarity, 4)) for r in store.recall(USER, q, k=5, now=NOW)] for q in QUERIES]
    assert all(found), "every query finds something"
    return found


def _records(store: MemoryStore) -> list[tuple[str, bool, str | None]]:
    return sorted((m.text, m.hard, m.slot) for m in store.user_records(USER).memories)


def test_a_batched_import_stores_and_recalls_what_one_by_one_adds_do(tmp_path: Path, texts: list[str]) -> None:
    path = tmp_path / "import.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"text": text}) + b"\n" for text in texts))
    with MemoryStore.open(tmp_path / "batched", EMBED_DIR, clock=lambda: NOW) as batched:
        batched.set_consent(USER, True)
        imported = [o.action for o in batched.import_jsonl(USER, path).outcomes]
        batched_records, batched_recall = _records(batched), _recalled(batched)
    with MemoryStore.open(tmp_path / "single", EMBED_DIR, clock=lambda: NOW) as single:
        single.set_consent(USER, True)
        added = [single.add(USER, text).action for text in texts]
        single_records, single_recall = _records(single), _recalled(single)
    assert imported == added, "each line became the same new memory, update or duplicate"
    assert imported.count("updated") >= 1 and imported.count("duplicate") >= 2
    assert batched_records == single_records
    assert batched_recall == single_recall
    kept = {text for text, _, _ in batched_records}
    assert "My cat is called Felix" in kept and "My cat is called Tom" not in kept


def test_an_index_rebuilt_from_the_records_in_batches_recalls_as_before(tmp_path: Path, texts: list[str]) -> None:
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as store:
        store.set_consent(USER, True)
        store.add_many(USER, texts)
        before, stored = _recalled(store), store.stats()["memories"]
    assert stored > STORE_BATCH, "the rebuild has several batches to embed"
    shutil.rmtree(tmp_path / "memory" / "index")
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: NOW) as store:
        assert store.stats()["index_live"] == stored
        assert _recalled(store) == before


def test_an_import_stops_at_the_batch_after_consent_is_withdrawn_and_leaves_no_worker(
    tmp_path: Path, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imports embed the next steps while writing one: a withdrawal during that embedding still stops the import."""
    import threading
    import time

    from sel.errors import ConsentError
    from sel.memory import writes

    step = 40
    monkeypatch.setattr(writes, "IMPORT_STEP", step)  # several steps in this small file

    path = tmp_path / "import.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"text": text}) + b"\n" for text in texts))
    with MemoryStore.open(tmp_path / "store", EMBED_DIR, clock=lambda: NOW) as store:
        store.set_consent(USER, True)
        core = store._core
        real_embed, calls = core.embed, []

        def embed_then_withdraw(batch: list[str]):  # the third step's embedding, once two steps are written
            calls.append(len(batch))
            number = len(calls)  # now: other steps start embedding meanwhile
            vectors = real_embed(batch)
            if number == 3:
                deadline = time.monotonic() + 60
                while len(store.user_records(USER).memories) < calls[0] + calls[1]:
                    assert time.monotonic() < deadline, "the first two steps were never written"
                    time.sleep(0.005)
                store.set_consent(USER, False)
            return vectors

        core.embed = embed_then_withdraw  # type: ignore[method-assign]
        with pytest.raises(ConsentError):
            store.import_jsonl(USER, path)
        # The steps after the third were already embedding when it was refused; none after them.
        assert len(texts) > (4 + writes.IMPORT_AHEAD) * step
        assert len(calls) == 3 + writes.IMPORT_AHEAD, "the import stopped instead of embedding on"
        kept = {m.text for m in store.user_records(USER).memories}
        assert kept == set(texts[: calls[0] + calls[1]]), "the steps written before the withdrawal, nothing after"
        assert not [t for t in threading.enumerate() if t.name.startswith("sel-import")], "no embedding left running"


def test_an_import_embeds_in_even_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100 lines in steps of at most 32 are four steps of 25: no short last step leaves a core idle."""
    from sel.memory import writes

    monkeypatch.setattr(writes, "IMPORT_STEP", 32)
    path = tmp_path / "import.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"text": text}) + b"\n" for text in generate_texts(100, seed=3)))
    with MemoryStore.open(tmp_path / "store", EMBED_DIR, clock=lambda: NOW) as store:
        store.set_consent(USER, True)
        core = store._core
        real_embed, calls = core.embed, []

        def counted(batch: list[str]):
            calls.append(len(batch))
            return real_embed(batch)

        core.embed = counted  # type: ignore[method-assign]
        outcomes = store.import_jsonl(USER, path).outcomes
    assert calls == [25, 25, 25, 25]
    assert len(outcomes) == 100
