"""Privacy guarantees, checked on disk: nothing without consent, nothing left after forget."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.errors import ConsentError
from sel.memory.consent import read_consent
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
USER = "user-7f3a9c41"  # distinctive, so a byte search for it cannot match by accident

FACTS = [
    "my turtle is called Shellington",
    "I'm a nurse at Saint Quirinus hospital",
    "remember that my locker is number 98127",
    "remember this forever: my sister is called Miabella",
    "I live in Quimperlé",
    "I love underwater basket weaving",
    "My birthday is on Zorptember 3rd",
    "I'm allergic to kumquats",
]


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def traces(root: Path, needles: list[str]) -> list[str]:
    """Every (file, needle) pair where a needle's bytes appear in a file under root."""
    found = []
    for path in files_under(root):
        data = path.read_bytes()
        for needle in needles:
            for encoded in {needle.encode(), orjson.dumps(needle)[1:-1]}:
                if encoded in data:
                    found.append(f"{path.relative_to(root)} holds {needle!r}")
    return found


operations = st.lists(
    st.one_of(
        st.tuples(st.just("observe"), st.sampled_from(FACTS) | st.text(max_size=60)),
        st.tuples(st.just("add"), st.sampled_from(FACTS)),
        st.tuples(st.just("profile"), st.sampled_from(FACTS)),
        st.tuples(st.just("touch"), st.just("")),
        st.tuples(st.just("recall"), st.sampled_from(FACTS)),
        st.tuples(st.just("withdraw"), st.just("")),
        st.tuples(st.just("import"), st.sampled_from(FACTS)),
        st.tuples(st.just("prune"), st.just("")),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_nothing_about_a_user_reaches_the_disk_without_consent(ops):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with MemoryStore.open(root, EMBED_DIR) as store:
            for op, text in ops:
                if op == "observe":
                    if read_consent(text).change is True:
                        continue  # that would be consent, which this test is not about
                    assert store.observe(USER, text).stored == []
                elif op == "add":
                    with pytest.raises(ConsentError):
                        store.add(USER, text)
                elif op == "profile":
                    assert store.put_profile(USER, "style", {"last": text}) is False
                elif op == "touch":
                    store.touch(USER)
                elif op == "recall":
                    assert store.recall(USER, text) == []
                elif op == "withdraw":
                    store.set_consent(USER, False)
                elif op == "import":
                    source = root / "import.jsonl"
                    source.write_bytes(orjson.dumps({"text": text}) + b"\n")
                    with pytest.raises(ConsentError):
                        store.import_jsonl(USER, source)
                    source.unlink()
                else:
                    store.prune_expired()
        journal = root / "memory" / "journal.jsonl"
        assert not journal.exists() or journal.read_bytes() == b"", "the record log must stay empty"
        assert traces(root, [USER, *FACTS]) == []


def test_forget_leaves_no_trace_of_the_user_on_disk(tmp_path):
    keep_user, keep_text = "user-b0b", "I restore antique clocks in Ghent"
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.set_consent(USER, True)
        store.set_consent(keep_user, True)
        for fact in FACTS:
            store.observe(USER, fact, tags=["smalltalk"])
        store.add(USER, "I keep bees on the roof", hard=True)
        store.put_profile(USER, "style", {"signature": "Shellington says hi"})
        store.add(keep_user, keep_text)
        labels = [m["label"] for m in export_user(store, USER)["memories"]]
        user_vectors = store.index.vectors(labels)
        # hnswlib's own copy of each vector, byte for byte, to look for in its saved graph file.
        graph_copies = [np.asarray(v, dtype=np.float32).tobytes()[:64] for v in store.index._hnsw.get_items(labels)]
        stored_texts = [m["text"] for m in export_user(store, USER)["memories"]]
        assert len(stored_texts) >= 8
    # A damaged log line that mentions the user ends up in quarantine on the next open.
    journal = tmp_path / "memory" / "journal.jsonl"
    with journal.open("ab") as fh:
        fh.write(b'{"op":"put","memory":{"user":"' + USER.encode() + b'","text":"I live in Quimperl\n')
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert store.stats()["quarantined_lines"] == 1
        assert traces(tmp_path, [USER]), "before forget the user is on disk (else this test proves nothing)"
        graph_before = b"".join(p.read_bytes() for p in (tmp_path / "memory" / "index").glob("graph-*.bin"))
        assert any(copy in graph_before for copy in graph_copies), "the search for vectors must be able to hit"
        store.forget(USER)
        assert export_user(store, USER)["memories"] == [] and not store.has_consent(USER)
        assert [r.text for r in store.recall(keep_user, "what do I restore?")] == [keep_text]
    assert traces(tmp_path, [USER, *stored_texts, "Shellington", "Quimperl"]) == []
    # The vectors are gone too: no saved vector is (nearly) one of the user's embeddings.
    saved = np.concatenate([np.load(p) for p in (tmp_path / "memory" / "index").glob("vectors-*.npy")])
    assert float((saved @ user_vectors.T).max()) < 0.99
    graph_after = b"".join(p.read_bytes() for p in (tmp_path / "memory" / "index").glob("graph-*.bin"))
    assert not any(copy in graph_after for copy in graph_copies), "hnswlib's copy of the vectors must be overwritten"
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert [r.text for r in store.recall(keep_user, "what do I restore?")] == [keep_text], "others keep theirs"
        assert store.stats()["users"] == 1
