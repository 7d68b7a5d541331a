"""Sentence embeddings with fastembed, from a local model folder only (no model hub).

One :class:`Embedder` per model folder per process (:func:`shared_embedder`); query
embeddings are kept in an LRU cache of 1000 entries. All methods block (ONNX Runtime):
async callers run them in a thread.

Each model call runs on one thread, and a bulk embedding (imports, index rebuilds) runs several
calls at once on the same session, two per core (see CALLS_PER_CORE). Measured on this 2-core machine (MiniLM int8,
2 000 memory-like texts of 56 characters in batches of 32): one session with two threads 488-492
texts/s; the same session single-threaded, two calls at once, 528-554/s. A query is one short
text, which a second thread does not speed up (p50 3.9-4.1 ms with one thread or two).
"""

from __future__ import annotations

import logging
import os
import threading
import types
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from sel.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    from fastembed import TextEmbedding

log = logging.getLogger(__name__)

DIM = 384
QUERY_CACHE_SIZE = 1000
EMBED_BATCH = 32
MIN_SPLIT = 8  # fewer texts than this per model call are not worth a second worker
MAX_BULK_WORKERS = 4  # model calls at once in a bulk embedding: beyond this, memory bandwidth gains little
# Two model calls per core: while one waits (for the GIL, or for an import writing its last step),
# the other keeps the core busy. Measured on two cores, 3 000 memories imported in 30 files: 468-482/s
# with two workers, 488/s with four; in one file, 502/s and 540/s.
CALLS_PER_CORE = 2
MODEL_FILES = ("model.onnx", "tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")
# The name fastembed registers the local model under; it never leaves this process.
_MODEL_NAME = "sel/all-MiniLM-L6-v2-int8-local"

_shared: dict[Path, Embedder] = {}
_shared_lock = threading.Lock()
_register_lock = threading.Lock()


def check_model_dir(model_dir: Path) -> None:
    """Raise ModelError unless ``model_dir`` holds the embedding model and its tokenizer files."""
    fix = "run `make setup` (or `sel models`) to install it, or point SEL_EMBED_MODEL at such a folder"
    if not model_dir.is_dir():
        raise ModelError(f"embedding model folder {model_dir} not found; {fix}")
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ModelError(f"embedding model folder {model_dir} lacks {', '.join(missing)}; {fix}")


class Embedder:
    """MiniLM (384-d, L2-normalized) over a local ONNX model."""

    dim = DIM

    def __init__(
        self,
        model_dir: Path,
        *,
        workers: int | None = None,
        cache_size: int = QUERY_CACHE_SIZE,
    ) -> None:
        """``workers``: model calls run at once for a bulk embedding (default: two per core, at most 4)."""
        check_model_dir(model_dir)
        self.model_dir = model_dir
        self._model = _load(model_dir, threads=1)
        default = min(MAX_BULK_WORKERS, CALLS_PER_CORE * (os.cpu_count() or 1))
        self.workers = max(1, workers if workers is not None else default)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def embed_documents(self, texts: Sequence[str], batch_size: int = EMBED_BATCH) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 array of shape (len(texts), dim); not cached."""
        import numpy as np

        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        # Batches of similar length waste less work on padding (measured: ~10 % faster than unsorted 64s).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self._even_batch_size(len(texts), batch_size)
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        if len(batches) < 2 or self.workers < 2:
            self._embed_batches(texts, batches, vectors)
        else:
            # Every share gets every n-th batch, so each holds short and long texts alike.
            shares = [batches[worker :: self.workers] for worker in range(self.workers)]
            pool = self._bulk_pool()
            for done in [pool.submit(self._embed_batches, texts, share, vectors) for share in shares]:
                done.result()
        return _normalized(vectors)

    def _even_batch_size(self, count: int, most: int) -> int:
        """A batch size of at most ``most`` that gives every worker as many batches (100 texts on two
        workers: four of 25, not three of 32 and one of 4 that leaves a core idle)."""
        batches = -(-count // most)
        if self.workers > 1 and count >= 2 * MIN_SPLIT:
            batches = -(-batches // self.workers) * self.workers
        return max(1, -(-count // max(batches, 1)))

    def _embed_batches(self, texts: Sequence[str], batches: list[list[int]], vectors: np.ndarray) -> None:
        """Embed each batch of positions into ``vectors`` (the batches of different calls never overlap)."""
        for batch in batches:
            embedded = self._model.embed([texts[i] for i in batch], batch_size=len(batch))
            for position, vector in zip(batch, embedded, strict=True):
                vectors[position] = vector

    def _bulk_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sel-embed")
            return self._pool

    def embed_query(self, text: str) -> np.ndarray:
        """The embedding of one query, from the LRU cache when it was asked recently (read-only array)."""
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return cached
        vector = self.embed_documents([text])[0]
        vector.setflags(write=False)  # shared by every caller that hits the cache
        with self._cache_lock:
            self.cache_misses += 1
            self._cache[text] = vector
            self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()


def shared_embedder(model_dir: Path) -> Embedder:
    """The process's one Embedder for ``model_dir`` (loaded on first use)."""
    key = model_dir.resolve()
    with _shared_lock:
        embedder = _shared.get(key)
        if embedder is None:
            embedder = Embedder(model_dir)
            _shared[key] = embedder
        return embedder


def _load(model_dir: Path, threads: int) -> TextEmbedding:
    # fastembed consults the hub unless told it is offline; this machine has no hub to reach.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    with _register_lock:
        _tuned_sessions()
        known = {m["model"] for m in TextEmbedding.list_supported_models()}
        if _MODEL_NAME not in known:
            TextEmbedding.add_custom_model(
                model=_MODEL_NAME,
                pooling=PoolingType.MEAN,
                normalization=True,
                sources=ModelSource(hf=_MODEL_NAME),
                dim=DIM,
                model_file="model.onnx",
            )
    try:
        model = TextEmbedding(model_name=_MODEL_NAME, specific_model_path=str(model_dir), threads=threads)
    except Exception as err:  # ONNX Runtime / tokenizers raise many types for a damaged file
        raise ModelError(
            f"embedding model in {model_dir} could not be loaded ({type(err).__name__}: {err}); "
            "run `make setup` to reinstall it"
        ) from err
    log.info("loaded embedding model from %s", model_dir)
    return model


def _tuned_sessions() -> None:
    """Have fastembed's ONNX sessions sleep instead of spinning, and optimize the graph only at the basic level.

    Spinning: ONNX Runtime's spinning threads fight every other busy process for the cores (llama.cpp
    generating, other work). Measured on this 2-core machine under load 7-9, MiniLM int8:
    a query p50 17-20 ms and 96-131 texts/s batched with spinning, 4.5-9 ms and 131-246/s
    without; when the machine was quieter, 2.7 against 4.3 ms and the same batch rate.

    Optimization level: fastembed asks for every graph optimization, but the extended ones make this
    int8 model slower on one thread. Measured here (ms per text, all / basic): one 12-token query
    2.87 / 2.65, batches of 32 × 16 tokens 3.13 / 2.79, of 32 × 40 tokens 8.80 / 7.70; the
    embeddings differ by at most 4e-6.

    fastembed exposes neither option, so its module sees ONNX Runtime with SessionOptions that
    set the first and an "enable all" level that means basic.
    """
    import onnxruntime
    from fastembed.common import onnx_model

    if getattr(onnx_model.ort, "sel_tuned", False):
        return

    def session_options() -> onnxruntime.SessionOptions:
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return options

    level = onnxruntime.GraphOptimizationLevel
    basic = types.SimpleNamespace(
        ORT_DISABLE_ALL=level.ORT_DISABLE_ALL,
        ORT_ENABLE_BASIC=level.ORT_ENABLE_BASIC,
        ORT_ENABLE_EXTENDED=level.ORT_ENABLE_BASIC,
        ORT_ENABLE_ALL=level.ORT_ENABLE_BASIC,
    )
    tuned = types.ModuleType(onnxruntime.__name__)
    tuned.__dict__.update(vars(onnxruntime))
    tuned.__dict__.update(SessionOptions=session_options, GraphOptimizationLevel=basic, sel_tuned=True)
    onnx_model.ort = tuned  # the same module, except for the options fastembed creates


def _normalized(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)
