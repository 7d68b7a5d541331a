"""The parts of an open memory store that every memory module shares.

One :class:`StoreCore` per open store: the record log, its in-memory view, the vector index,
the clock, the embedder and the one re-entrant lock that guards them. It also owns when the
index snapshot is saved and the log compacted, since every writer feeds that decision.
Consent, writes, recall and lifecycle (sel.memory.consent_book, writes, recall, lifecycle)
are functions over a core; sel.memory.store.MemoryStore is the facade the rest of SEL uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.errors import InputError
from sel.memory.embeddings import Embedder, shared_embedder
from sel.memory.index import VectorIndex
from sel.memory.journal import Journal
from sel.memory.records import valid_user_id
from sel.memory.state import MemoryState
from sel.memory.store_lock import StoreLock

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SNAPSHOT_MIN_CHANGES = 1000  # index changes before a snapshot is due (bounds re-embedding after a crash)
SNAPSHOT_FRACTION = 0.25  # ... and at least this share of the index, so big bulk loads do not rewrite it often
SNAPSHOT_MAX_AGE_SECONDS = 1800.0  # a checkpoint saves even a few changes once the snapshot is this old
COMPACT_MIN_LINES = 1000
STORE_BATCH = 256  # memories embedded per batch by index rebuilds


class StoreCore:
    """An open store's files, view, index and lock. Hold ``lock`` while reading or changing any of them."""

    def __init__(
        self,
        root: Path,
        embed_model_dir: Path,
        journal: Journal,
        state: MemoryState,
        index: VectorIndex,
        file_lock: StoreLock,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.root = root
        self.journal = journal
        self.state = state
        self.index = index
        self.clock = clock
        self.lock = threading.RLock()
        self.persisted_seen = dict(state.last_seen)  # the last-seen times the log already holds
        self._file_lock = file_lock
        self._embed_model_dir = embed_model_dir
        self._embedder: Embedder | None = None
        self._unsaved_changes = 0
        self._snapshot_at = clock()
        self._closed = False

    def now(self, now: float | None) -> float:
        """``now``, or the clock's time when it is None."""
        return self.clock() if now is None else now

    def check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this MemoryStore is closed")

    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use (shared by every store on the same model folder)."""
        if self._embedder is None:
            self._embedder = shared_embedder(self._embed_model_dir)
        return self._embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document embeddings of ``texts``; slow, so callers do it outside the lock."""
        return self.embedder().embed_documents(texts)

    # -- snapshot and compaction -------------------------------------------------------------------

    def changed(self, count: int) -> None:
        """Note ``count`` index changes (under the lock): save a snapshot when many are unsaved, compact when due."""
        self._unsaved_changes += count
        try:
            if self._unsaved_changes >= max(SNAPSHOT_MIN_CHANGES, SNAPSHOT_FRACTION * self.index.live_count):
                self.save_index()
            self.compact_if_due()
        except OSError as err:
            # The change itself is already durable in the log; snapshot and compaction are retried later.
            log.warning("memory housekeeping (index snapshot, compaction) failed, will retry: %s", err)

    def save_index(self) -> None:
        entries = {m.label: (m.id, m.version) for m in self.state.memories.values()}
        self.index.save(self.root / "index", entries)
        self._unsaved_changes = 0
        self._snapshot_at = self.clock()

    def compact_if_due(self) -> None:
        """Rewrite the log as its shortest equivalent once it holds far more lines than the view needs."""
        if self.journal.line_count > 2 * self.state.event_count() + COMPACT_MIN_LINES:
            self.journal.rewrite(self.state.events())
            log.info("compacted the memory log to %d lines", self.journal.line_count)

    def checkpoint(self, *, force: bool = False) -> None:
        """Save the index snapshot if it has changes worth saving, and compact the log if it has grown stale.

        A few changes are saved once the snapshot is SNAPSHOT_MAX_AGE_SECONDS old (or with ``force``):
        the snapshot can be large, and changes it misses are only re-embedded after a crash.
        """
        with self.lock:
            self.check_open()
            stale = self.clock() - self._snapshot_at >= SNAPSHOT_MAX_AGE_SECONDS
            if self._unsaved_changes and (force or stale or self._unsaved_changes >= SNAPSHOT_MIN_CHANGES):
                self.save_index()
            self.compact_if_due()

    def close(self) -> None:
        """Checkpoint and release the files; calling it again does nothing."""
        with self.lock:
            if self._closed:
                return
            try:
                self.checkpoint(force=True)
            finally:
                # Even if the last checkpoint fails (disk full), the next open must not find the store locked.
                self.journal.close()
                self._file_lock.release()
                self._closed = True

    def stats(self) -> dict[str, Any]:
        """Counts for the owner (no user text, no user ids)."""
        with self.lock:
            state = self.state
            hard = sum(1 for m in state.memories.values() if m.hard)
            return {
                "users": len(state.users()),
                "consenting_users": len(state.consent),
                "memories": len(state.memories),
                "hard": hard,
                "soft": len(state.memories) - hard,
                "profiles": sum(len(p) for p in state.profiles.values()),
                "index_live": self.index.live_count,
                "index_extent": self.index.extent,
                "unsaved_index_changes": self._unsaved_changes,
                "journal_lines": self.journal.line_count,
                "journal_bytes": self.journal.size_bytes(),
                "quarantined_lines": len(self.journal.quarantined_lines()),
                "path": str(self.root),
            }


def check_user_id(user_id: str) -> None:
    """InputError (one line) for a user id that cannot be stored."""
    if not valid_user_id(user_id):
        raise InputError(
            f"user id {user_id!r} cannot be stored; use a Discord user id (digits) or 'local' for the terminal user"
        )
