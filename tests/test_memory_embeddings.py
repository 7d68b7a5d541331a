"""The embedder's ONNX session: its threads sleep rather than spin, so a busy machine does not starve it,
and its graph is optimized at the level that runs this model fastest."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import Embedder

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR


def test_the_embedding_session_threads_do_not_spin() -> None:
    embedder = Embedder(EMBED_DIR)
    onnx_model: Any = embedder._model.model  # fastembed's TextEmbedding -> its ONNX model (untyped)
    session = onnx_model.model  # -> the ONNX Runtime session
    options = session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_the_embedding_session_optimizes_its_graph_at_the_basic_level_and_embeds_as_before() -> None:
    """The extended optimizations made this int8 model about 10 % slower on one thread (sel.memory.embeddings)."""
    import onnxruntime

    embedder = Embedder(EMBED_DIR)
    onnx_model: Any = embedder._model.model
    levels = onnxruntime.GraphOptimizationLevel
    assert onnx_model.model.get_session_options().graph_optimization_level == levels.ORT_ENABLE_BASIC
    # The same text through a session with every optimization (ONNX Runtime's default), mean-pooled.
    everything = onnxruntime.InferenceSession(str(EMBED_DIR / "model.onnx"), providers=["CPUExecutionProvider"])
    assert (
        everything.get_session_options().graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    text = "my turtle is called Shelly"
    encoded = onnx_model.tokenizer.encode_batch([text])[0]
    feed = {
        "input_ids": np.array([encoded.ids], dtype=np.int64),
        "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
        "token_type_ids": np.array([encoded.type_ids], dtype=np.int64),
    }
    pooled = everything.run(None, feed)[0][0].mean(axis=0)
    np.testing.assert_allclose(embedder.embed_documents([text])[0], pooled / np.linalg.norm(pooled), atol=1e-4)


def test_documents_embed_the_same_alone_or_in_a_length_sorted_batch() -> None:
    embedder = Embedder(EMBED_DIR)
    texts = ["a much longer sentence about climbing in the Alps every summer", "short one", "a cat named Tom"]
    batch = embedder.embed_documents(texts, batch_size=2)
    alone = np.stack([embedder.embed_documents([text])[0] for text in texts])
    assert batch.shape == (3, embedder.dim)
    np.testing.assert_allclose(batch, alone, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_a_bulk_embedding_split_across_workers_gives_the_vectors_one_worker_gives() -> None:
    texts = [f"memory {i}: my friend number {i} lives {'very ' * (i % 7)}far away" for i in range(200)]
    alone = Embedder(EMBED_DIR, workers=1).embed_documents(texts, batch_size=16)
    split = Embedder(EMBED_DIR, workers=3).embed_documents(texts, batch_size=16)
    assert split.shape == (200, 384)
    np.testing.assert_allclose(split, alone, atol=1e-5)
    assert not np.isnan(split).any()


def test_a_bulk_embedding_runs_model_calls_at_once_each_on_one_thread() -> None:
    """Concurrent single-threaded calls on one session beat one call on two threads (see the module's docstring)."""
    import threading
    import time

    embedder = Embedder(EMBED_DIR, workers=2)
    onnx_model: Any = embedder._model.model
    session = onnx_model.model
    assert session.get_session_options().intra_op_num_threads == 1
    running, most = 0, 0
    lock = threading.Lock()
    real_run = session.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.02)  # long enough for the other worker's call to start
            return real_run(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    onnx_model.model = types.SimpleNamespace(run=counting_run, get_inputs=session.get_inputs)
    embedder.embed_documents([f"text {i}" for i in range(64)], batch_size=8)
    assert most == 2


@pytest.mark.parametrize(
    ("count", "workers", "sizes"), [(36, 2, [18, 18]), (100, 2, [25] * 4), (10, 2, [10]), (64, 1, [32, 32])]
)
def test_a_bulk_embedding_gives_every_worker_even_batches(count: int, workers: int, sizes: list[int]) -> None:
    """36 texts in batches of at most 32 on two workers: 18 + 18, not 32 + 4 (that left one core idle)."""
    embedder = Embedder(EMBED_DIR, workers=workers)
    onnx_model: Any = embedder._model.model
    session, seen = onnx_model.model, []

    def recording_run(names: Any, feeds: dict[str, Any], *args: Any) -> Any:
        seen.append(len(feeds["input_ids"]))
        return session.run(names, feeds, *args)

    onnx_model.model = types.SimpleNamespace(run=recording_run, get_inputs=session.get_inputs)
    embedder.embed_documents([f"text number {i}" for i in range(count)], batch_size=32)
    assert sorted(seen) == sorted(sizes)
