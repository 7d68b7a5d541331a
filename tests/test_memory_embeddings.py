"""The embedder's ONNX session: its threads sleep rather than spin, so a busy machine does not starve it."""

from __future__ import annotations

from typing import Any

import numpy as np

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


def test_documents_embed_the_same_alone_or_in_a_length_sorted_batch() -> None:
    embedder = Embedder(EMBED_DIR)
    texts = ["a much longer sentence about climbing in the Alps every summer", "short one", "a cat named Tom"]
    batch = embedder.embed_documents(texts, batch_size=2)
    alone = np.stack([embedder.embed_documents([text])[0] for text in texts])
    assert batch.shape == (3, embedder.dim)
    np.testing.assert_allclose(batch, alone, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
