"""The vector index on its own (real hnswlib): isolation on both search paths, deletion, snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from sel.memory.index import IndexUnavailable, VectorIndex

DIM = 384


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def crowded():
    """Owner A has 5 random vectors; B has 2000 vectors all almost equal to the query."""
    rng = np.random.default_rng(3)
    query = unit(rng.normal(size=(1, DIM)))[0]
    a_labels = list(range(5))
    b_labels = list(range(5, 2005))
    index = VectorIndex(DIM)
    index.put(a_labels, unit(rng.normal(size=(5, DIM))))
    index.put(b_labels, unit(query + 0.01 * rng.normal(size=(2000, DIM))), threads=2)
    return index, query, set(a_labels), set(b_labels)


@pytest.mark.parametrize("exact_fraction", [0.5, 0.0], ids=["exact scan", "filtered graph search"])
def test_search_returns_only_allowed_labels_however_close_the_others_are(crowded, exact_fraction):
    index, query, a_labels, _ = crowded
    index.exact_fraction = exact_fraction
    hits = index.search(query, a_labels, k=10)
    assert index.last_search_path == ("exact" if exact_fraction else "graph")
    assert {label for label, _ in hits} == a_labels, "k above A's count returns all of A and nothing else"
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_both_search_paths_find_the_same_nearest_neighbour():
    rng = np.random.default_rng(5)
    vectors = unit(rng.normal(size=(1500, DIM)))
    index = VectorIndex(DIM)
    index.put(list(range(1500)), vectors, threads=2)
    allowed = set(range(0, 1500, 3))
    for target in (0, 300, 903, 1497):
        query = unit(vectors[target : target + 1] + 0.3 * rng.normal(size=(1, DIM)) / np.sqrt(DIM))[0]
        index.exact_fraction = 1.0
        exact = index.search(query, allowed, k=3)
        index.exact_fraction = 0.0
        graph = index.search(query, allowed, k=3)
        assert exact[0][0] == target and graph[0][0] == target
        assert graph[0][1] == pytest.approx(exact[0][1], abs=1e-4)


def test_removed_labels_are_overwritten_and_never_found(crowded):
    index, query, _, b_labels = crowded
    victims = sorted(b_labels)[:1000]
    index.remove(victims)
    assert not index.vectors(victims).any(), "removed rows are zeroed"
    for fraction in (1.0, 0.0):
        index.exact_fraction = fraction
        hits = index.search(query, b_labels, k=50)
        assert not {label for label, _ in hits} & set(victims)
    index.put([victims[0]], unit(np.ones((1, DIM))))  # a freed label can be reused
    assert index.is_live(victims[0])


def test_snapshot_round_trip_keeps_vectors_and_entries(tmp_path, crowded):
    index, query, a_labels, _ = crowded
    entries = {label: (f"m{label}", 1) for label in range(2005)}
    index.save(tmp_path, entries)
    loaded, loaded_entries = VectorIndex.load(tmp_path)
    assert loaded_entries == entries
    before, after = index.search(query, a_labels, k=5), loaded.search(query, a_labels, k=5)
    assert [label for label, _ in after] == [label for label, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before])
    index.save(tmp_path, entries)
    assert len(list(tmp_path.glob("graph-*.bin"))) == 1, "older snapshot files are removed"


def test_a_snapshot_whose_files_do_not_match_is_refused(tmp_path, crowded):
    index, *_ = crowded
    index.save(tmp_path, {0: ("m0", 1)})
    with pytest.raises(IndexUnavailable, match="is missing"):
        VectorIndex.load(tmp_path / "elsewhere")
    graph = next(tmp_path.glob("graph-*.bin"))
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match="checksum"):
        VectorIndex.load(tmp_path)


def test_the_index_grows_past_its_initial_capacity():
    index = VectorIndex(DIM)
    vectors = unit(np.random.default_rng(1).normal(size=(3, DIM)))
    index.put([0, 5000, 9000], vectors)
    assert index.extent == 9001 and index.live_count == 3
    assert index.search(vectors[2], {0, 5000, 9000}, k=1)[0][0] == 9000


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-8],  # an array cut short under an intact header
        lambda data: b"\x93NUMPZ" + data[6:],  # not an .npy file at all
        lambda data: data.replace(b"'descr': '<f4'", b"'descr': '|O' ", 1),  # objects instead of floats
    ],
    ids=["cut short", "bad magic", "object array"],
)
def test_a_vector_file_that_matches_its_checksum_but_not_its_format_is_refused(tmp_path, crowded, damage):
    """A checksum only proves the file is the one described; its content must still be a plain float array."""
    import orjson

    index, *_ = crowded
    index.save(tmp_path, {0: ("m0", 1)})
    vectors = next(tmp_path.glob("vectors-*.npy"))
    vectors.write_bytes(damage(vectors.read_bytes()))
    meta = orjson.loads((tmp_path / "index.json").read_bytes())
    data = vectors.read_bytes()
    meta["vectors"].update(bytes=len(data), crc32=__import__("zlib").crc32(data))
    (tmp_path / "index.json").write_bytes(orjson.dumps(meta))
    with pytest.raises(IndexUnavailable, match="is damaged"):
        VectorIndex.load(tmp_path)
