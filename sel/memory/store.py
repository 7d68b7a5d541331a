"""MemoryStore: consent-based long-term memory, the one API the rest of SEL uses.

Everything about a user is stored only while that user has opted in. What is kept lives
under ``data_dir/memory/``:

* ``journal.jsonl`` - the record log (consent, last-seen times, memories, profiles), the
  source of truth; fsync'd before an operation returns, compacted atomically;
* ``quarantine.jsonl`` - damaged log lines, kept byte for byte;
* ``index/`` - the vector index snapshot, derived data rebuilt from the log when missing
  or damaged;
* ``lock`` - locked while a store has the files open, so a second process (the CLI while
  the bot runs) is refused instead of replacing the log under the first.

All methods block (embedding, fsync) and are thread-safe; async callers use
``asyncio.to_thread``. Without consent, ``recall`` and ``get_profile`` return nothing: a
user who withdrew consent is neither remembered anew nor reminded of what is stored, and
``forget`` erases it (so does the user asking, e.g. "forget everything you know about me").

This class is a facade: the work is done by functions over a shared
:class:`~sel.memory.core.StoreCore` in consent_book (who opted in), observe (one message in),
writes (storing and de-duplicating), recall (reading back), profiles and lifecycle (open,
last-seen, expiry, forgetting). An export and the memory map are built outside the store
(sel.memory.export, sel.memory.svg) from :meth:`user_records` and :meth:`embedded_memories`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.memory import consent_book, lifecycle, matching, observe, profiles, recall, scope_book, writes
from sel.memory.core import StoreCore
from sel.memory.matching import Match
from sel.memory.ranking import MIN_SIMILARITY
from sel.memory.records import ImportResult, Memory, ObserveResult, Outcome, Recalled, UserRecords
from sel.memory.scopes import ANY

if TYPE_CHECKING:
    import numpy as np

    from sel.memory.index import VectorIndex


class MemoryStore:
    """Consent-based long-term memory for all users. Build it with :meth:`open`."""

    def __init__(
        self, core: StoreCore, *, llm_extract: Callable[[str], list[str]] | None = None, tz: tzinfo | None = None
    ) -> None:
        self._core = core
        self._llm_extract = llm_extract
        self._tz = tz  # where "yesterday" in a recall query starts; None: the machine's local time zone

    @classmethod
    def open(
        cls,
        data_dir: Path,
        embed_model_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        llm_extract: Callable[[str], list[str]] | None = None,
        tz: tzinfo | None = None,
    ) -> MemoryStore:
        """Open (or create) the store under ``data_dir/memory``.

        Damaged log lines are quarantined; a missing, damaged or stale index is rebuilt
        from the log (logged). ``llm_extract`` (text -> fact sentences) adds LLM-assisted
        extraction; pass it only when ``settings.memory_llm_extraction`` is on. ``tz`` is the owner's
        time zone (SEL_TIMEZONE) for time words in recall queries ("yesterday"), else the machine's.
        Only one open store per data dir at a time (this process or any other), held until
        :meth:`close`: raises StoreInUseError if it is already open, ModelError when the
        embedding model folder is missing.
        """
        return cls(lifecycle.open_core(data_dir, embed_model_dir, clock=clock), llm_extract=llm_extract, tz=tz)

    @property
    def root(self) -> Path:
        """The store's folder (``data_dir/memory``)."""
        return self._core.root

    @property
    def clock(self) -> Callable[[], float]:
        """The store's clock: "now" for reads that take an optional time."""
        return self._core.clock

    @property
    def index(self) -> VectorIndex:
        """The vector index itself, for benchmarks and tests only (hold no reference across writes)."""
        return self._core.index

    # -- consent -------------------------------------------------------------------------------

    def has_consent(self, user_id: str) -> bool:
        """Whether the user has opted in to being remembered."""
        return consent_book.has_consent(self._core, user_id)

    def set_consent(self, user_id: str, on: bool, *, now: float | None = None) -> None:
        """Record an opt-in or a withdrawal (durable when this returns). Withdrawal stops storing at once."""
        consent_book.set_consent(self._core, user_id, on, self._core.now(now))

    # -- storing -------------------------------------------------------------------------------

    def observe(
        self,
        user_id: str,
        text: str,
        *,
        tags: Sequence[str] = (),
        now: float | None = None,
        where: str | None = None,
        channel: str | None = None,
    ) -> ObserveResult:
        """Take in one message from the user: consent changes, last-seen time, and facts worth keeping.

        Facts are stored only with consent, and secrets (passwords, PINs, card numbers, keys) never.
        ``tags`` are topic tags from the router. ``where`` is the message's place ("dm" or "guild:<id>",
        see sel.memory.scopes): what it tells may come back there (None: anywhere), unless the person
        prefers otherwise (:meth:`set_scope_preference`) or says so ("keep that between us"). With a
        ``channel`` (its conversation) the turn itself is also kept, as an episode (sel.memory.episodes).
        A withdrawal stops storing at once; a direct request to erase ("forget everything you know about
        me", "delete my data") also deletes everything about the user, as :meth:`forget` does, and says so
        in ``forgotten`` and ``reply_hint``.
        """
        return observe.observe(
            self._core, self._llm_extract, user_id, text, tags, self._core.now(now), where=where, channel=channel
        )

    def add(
        self,
        user_id: str,
        text: str,
        *,
        tags: Sequence[str] = (),
        hard: bool = False,
        now: float | None = None,
        scope: str = ANY,
    ) -> Outcome:
        """Store ``text`` as given; say whether it is a new memory, an update of the memory in the same slot
        ("I moved to Oslo" after "I live in Lisbon") or a duplicate of one already kept (see sel.memory.sameness).
        ``scope`` is where it may come back (sel.memory.scopes; the owner's additions: anywhere).

        Raises ConsentError without consent, InputError for empty or overlong text or a secret.
        """
        return writes.add(self._core, user_id, text, tags, hard, self._core.now(now), scope=scope)

    def add_many(
        self, user_id: str, texts: Sequence[str], *, tags: Sequence[str] = (), now: float | None = None
    ) -> list[Outcome]:
        """Store several texts in one batch (one embedding pass, one fsync); ConsentError without consent."""
        return writes.add_many(self._core, user_id, texts, tags, self._core.now(now))

    def import_jsonl(
        self, user_id: str, path: Path, *, skip_refused: bool = False, now: float | None = None
    ) -> ImportResult:
        """Store every memory in a JSON-lines file (see sel.memory.import_format); say what became of each line.

        The whole file is checked first: a bad line raises InputError naming it and nothing is stored,
        unless ``skip_refused``: then the good lines are stored and the bad ones listed in the result.
        """
        return writes.import_jsonl(self._core, user_id, path, skip_refused=skip_refused, now=self._core.now(now))

    # -- last seen and expiry ------------------------------------------------------------------

    def touch(self, user_id: str, now: float | None = None) -> None:
        """Mark the user as seen, extending their soft memories (nothing is stored without consent)."""
        lifecycle.touch(self._core, user_id, self._core.now(now))

    def prune_expired(self, now: float | None = None) -> int:
        """Delete soft memories whose TTL has run out; return how many. Run it periodically (see run_pruner)."""
        return lifecycle.prune_expired(self._core, self._core.now(now))

    # -- reading back --------------------------------------------------------------------------

    def recall(
        self,
        user_id: str,
        query: str,
        *,
        k: int = 5,
        now: float | None = None,
        min_similarity: float = MIN_SIMILARITY,
        where: str | None = None,
        neighbours: int = 0,
    ) -> list[Recalled]:
        """The user's ``k`` memories most relevant to ``query``, best first; only that user's, only with consent.

        Relevance is cosine similarity, lifted for memories that name the numbers, names or dates the
        query names ("trip 17"; embeddings hardly tell those apart), at least ``min_similarity`` with
        the lift, and nudged by recency and hardness. Expired soft memories are never returned, even
        before the pruner deletes them.

        ``where`` is the reply's place ("dm" or "guild:<id>"): memories scoped away from it are left out
        before ranking (None, for the owner's tools: all). Episodes take at most half of the ``k`` places
        unless no fact is left for them; ``neighbours`` adds that many of the person's turns before and
        after each matched episode in its conversation, right after it (so the list may be longer than ``k``).
        """
        now = self._core.now(now)
        return recall.recall(
            self._core,
            user_id,
            query,
            k=k,
            now=now,
            min_similarity=min_similarity,
            where=where,
            neighbours=neighbours,
            tz=self._tz,
        )

    def user_records(self, user_id: str) -> UserRecords:
        """Everything stored about the user, whatever their consent (for a data export; see sel.memory.export)."""
        return recall.user_records(self._core, user_id)

    def embedded_memories(self, user_id: str, now: float | None = None) -> tuple[list[Memory], np.ndarray]:
        """The user's unexpired memories and their embeddings, one row each (for the map; see sel.memory.svg)."""
        return recall.embedded_memories(self._core, user_id, self._core.now(now))

    # -- profiles ------------------------------------------------------------------------------

    def get_profile(self, user_id: str, kind: str) -> dict[str, Any] | None:
        """A stored profile (e.g. kind="style"), or None if there is none or the user has not consented."""
        return profiles.get_profile(self._core, user_id, kind)

    def put_profile(self, user_id: str, kind: str, data: dict[str, Any]) -> bool:
        """Store a profile (JSON-able dict); False and nothing stored without consent."""
        return profiles.put_profile(self._core, user_id, kind, data)

    def set_scope_preference(self, user_id: str, preference: str) -> bool:
        """Where the person's future memories may come back: "here" (where said, the default), "anywhere"
        or "dm" (only in DMs with them); False and nothing kept without consent."""
        return scope_book.set_preference(self._core, user_id, preference)

    # -- owner tools and housekeeping ----------------------------------------------------------

    def forget(self, user_id: str) -> None:
        """Erase everything about the user: memories, vectors, profiles, consent, last-seen, quarantined lines.

        The log is rewritten without them and a fresh index snapshot replaces the old files.
        """
        lifecycle.forget(self._core, user_id)

    def find(self, user_id: str, text: str, *, k: int = 5) -> list[Match]:
        """The user's memories that match ``text`` (a description, "my cat's name"), best first, whatever their
        consent: what a person may pick one from to delete (see sel.memory.matching)."""
        return matching.find(self._core, user_id, text, k)

    def memories(self, user_id: str) -> list[Memory]:
        """The user's memories, oldest said first (expired soft ones too, until the pruner deletes them)."""
        return sorted(self.user_records(user_id).memories, key=lambda m: m.when_said)

    def delete(self, user_id: str, memory_id: str) -> Memory:
        """Erase one of the user's memories, its past versions included, leaving no trace on disk; return it.

        InputError (one line) when the user has no memory with that id: another user's is never deleted.
        """
        return lifecycle.delete_memory(self._core, user_id, memory_id)

    def stats(self) -> dict[str, Any]:
        """Counts for the owner (no user text, no user ids)."""
        return self._core.stats()

    def checkpoint(self, *, force: bool = False) -> None:
        """Save the index snapshot if it has changes worth saving, and compact the log if it has grown stale.

        A few changes are saved once the snapshot is SNAPSHOT_MAX_AGE_SECONDS old (or with ``force``):
        the snapshot can be large, and changes it misses are only re-embedded after a crash.
        """
        self._core.checkpoint(force=force)

    def close(self) -> None:
        """Checkpoint and release files. The store cannot be used afterwards."""
        self._core.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
