"""Durability: SIGKILL mid-burst, damaged index files, damaged and torn log lines."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
REPO = Path(__file__).resolve().parents[1]

# The child acknowledges each memory by printing its id once add() has returned. Between adds it
# also exercises the other writers (index snapshots, compaction, forgetting another user).
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sel.cli.bench_memory import generate_texts
    from sel.memory.store import MemoryStore

    store = MemoryStore.open(Path(sys.argv[1]), Path(sys.argv[2]))
    store.set_consent("keeper", True)
    print("ready", flush=True)
    for i, text in enumerate(generate_texts(5000, seed=3)):
        memory = store.add("keeper", text)
        print(memory.id, flush=True)
        if i % 5 == 0:
            store.set_consent(f"passer-{i}", True)
            store.add(f"passer-{i}", f"I am passing through town {i}")
        if i % 7 == 3:
            store.forget(f"passer-{i - 3}")
        if i % 4 == 1:
            store.checkpoint()
    """
)


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


def run_child_and_kill(data_dir: Path, after_acks: int, extra_delay: float) -> list[str]:
    """Start a writer, SIGKILL it once it has acknowledged ``after_acks`` memories; return the acknowledged ids."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), str(EMBED_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked: list[str] = []
    try:
        assert child.stdout is not None
        first = child.stdout.readline().strip()
        assert first == "ready", f"child failed to start: {first!r} {child.stderr.read() if child.stderr else ''}"
        while len(acked) < after_acks:
            line = child.stdout.readline()
            assert line, f"child exited early: {child.stderr.read() if child.stderr else ''}"
            acked.append(line.strip())
        time.sleep(extra_delay)
        child.send_signal(signal.SIGKILL)
        # Ids printed before the kill landed were acknowledged too.
        acked.extend(line.strip() for line in child.stdout if line.strip())
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize(("after_acks", "extra_delay"), [(25, 0.0), (40, 0.013)])
def test_sigkill_during_a_burst_loses_no_acknowledged_memory(tmp_path, after_acks, extra_delay):
    acked = run_child_and_kill(tmp_path, after_acks, extra_delay)
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        kept = {m["id"]: m["text"] for m in export_user(store, "keeper")["memories"]}
        missing = [memory_id for memory_id in acked if memory_id not in kept]
        assert missing == [], f"{len(missing)} acknowledged memories lost after SIGKILL"
        assert len(set(acked)) >= 0.9 * len(acked), "the burst must write distinct memories, not update one"
        assert store.stats()["quarantined_lines"] <= 1, "at most the line being written can be torn"
        # The index was reconciled with the log: recall finds memories written after the last snapshot.
        last_text = kept[acked[-1]]
        assert store.recall("keeper", last_text, k=1)[0].text == last_text


def make_store_with_memories(data_dir: Path) -> list[str]:
    with MemoryStore.open(data_dir, EMBED_DIR) as store:
        store.set_consent("u1", True)
        facts = ["I play the bassoon", "my parrot is called Kiwi", "I live in Tromsø", "I collect old maps"]
        for fact in facts:
            store.add("u1", fact)
    return facts


@pytest.mark.parametrize("damage", ["garbage", "truncated", "deleted", "meta garbage", "one flipped byte"])
def test_a_damaged_or_missing_index_is_rebuilt_from_the_records(tmp_path, caplog, damage):
    facts = make_store_with_memories(tmp_path)
    index_dir = tmp_path / "memory" / "index"
    graph = next(index_dir.glob("graph-*.bin"))
    if damage == "garbage":
        graph.write_bytes(os.urandom(graph.stat().st_size))
    elif damage == "truncated":
        graph.write_bytes(graph.read_bytes()[:1000])
    elif damage == "deleted":
        for path in index_dir.iterdir():
            path.unlink()
    elif damage == "meta garbage":
        (index_dir / "index.json").write_bytes(b"{not json")
    else:
        vectors = next(index_dir.glob("vectors-*.npy"))
        data = bytearray(vectors.read_bytes())
        data[-7] ^= 0x40  # a silent bit flip inside a vector: only the checksum can notice it
        vectors.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="sel.memory"), MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert "rebuilding it from 4 records" in caplog.text
        assert store.recall("u1", "what is my parrot called?", k=1)[0].text == "my parrot is called Kiwi"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sel.memory"), MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert "rebuilding" not in caplog.text, "the rebuilt index was saved"
        assert len(export_user(store, "u1")["memories"]) == len(facts)


def test_a_damaged_record_line_is_quarantined_and_the_rest_loads(tmp_path, caplog):
    make_store_with_memories(tmp_path)
    journal = tmp_path / "memory" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    damaged = b'{"op":"put","memory":{"id":"zz","user":"u1","text":"\xff\xfe half a rec\n'
    wrong_shape = b'{"op":"put","memory":{"id":"yy","user":"u1","text":"no label"}}\n'
    journal.write_bytes(b"".join([lines[0], damaged, *lines[1:3], wrong_shape, *lines[3:]]))
    with caplog.at_level(logging.WARNING, logger="sel.memory"), MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert "line 2 is damaged" in caplog.text and "line 5 is damaged" in caplog.text
        assert len(export_user(store, "u1")["memories"]) == 4, "every good record still loads"
        quarantine = (tmp_path / "memory" / "quarantine.jsonl").read_bytes()
        assert quarantine == damaged + wrong_shape, "damaged lines are kept byte for byte"
        store.add("u1", "I brew my own cider")
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert len(export_user(store, "u1")["memories"]) == 5
        assert store.stats()["quarantined_lines"] == 2, "a line is quarantined once, not on every start"


def test_a_line_torn_by_a_crash_is_quarantined_and_later_appends_stay_readable(tmp_path):
    make_store_with_memories(tmp_path)
    journal = tmp_path / "memory" / "journal.jsonl"
    with journal.open("ab") as fh:
        fh.write(b'{"op":"put","memory":{"id":"torn","user":"u1","te')
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.add("u1", "I sail on weekends")
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert "I sail on weekends" in [m["text"] for m in export_user(store, "u1")["memories"]]
        assert store.stats()["quarantined_lines"] == 1


def test_temp_files_left_by_a_killed_writer_are_removed(tmp_path):
    make_store_with_memories(tmp_path)
    leftover = tmp_path / "memory" / ".journal.jsonl.1a2b3c4d.tmp"
    leftover.write_bytes(b'{"op":"put","memory":{"text":"half-written secret"}}\n')
    with MemoryStore.open(tmp_path, EMBED_DIR):
        assert not leftover.exists()


def test_snapshot_files_not_named_by_the_index_description_are_removed(tmp_path):
    make_store_with_memories(tmp_path)
    orphan = tmp_path / "memory" / "index" / "graph-0123456789ab.bin"
    orphan.write_bytes(b"vectors of a save that died before it was committed")
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert not orphan.exists()
        assert len(export_user(store, "u1")["memories"]) == 4
