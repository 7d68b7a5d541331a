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
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from sel.atomic_files import remove_stale_temps
from sel.errors import ConsentError, InputError
from sel.memory import consent as consent_rules
from sel.memory.admission import checked_text
from sel.memory.details import NAMED_DETAIL_BONUS, forget_cached, named_share, query_details
from sel.memory.embeddings import DIM, Embedder, check_model_dir, shared_embedder
from sel.memory.extraction import (
    Fact,
    extract_facts,
    fact_from_text,
    is_secret,
    keywords,
    mentions_secret,
    without_secrets,
)
from sel.memory.import_format import read_import_file
from sel.memory.index import Entries, IndexUnavailable, VectorIndex, discard_snapshot
from sel.memory.journal import Journal
from sel.memory.ranking import MIN_SIMILARITY, recall_score
from sel.memory.records import (
    MAX_TEXT_CHARS,
    ImportResult,
    Memory,
    ObserveResult,
    Outcome,
    Recalled,
    clean_text,
    normalize_tags,
    valid_user_id,
)
from sel.memory.retention import SOFT_TTL_SECONDS, expires_at, is_expired
from sel.memory.sameness import same_fact
from sel.memory.state import (
    MemoryState,
    consent_event,
    delete_event,
    profile_event,
    put_event,
    seen_event,
)
from sel.memory.store_lock import StoreLock

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

DUPLICATE_CANDIDATES = 8  # the user's nearest memories checked for being the same fact as a new one
SEEN_PERSIST_SECONDS = 600.0  # last-seen times are written at most this often per user
SNAPSHOT_MIN_CHANGES = 1000  # index changes before a snapshot is due (bounds re-embedding after a crash)
SNAPSHOT_FRACTION = 0.25  # ... and at least this share of the index, so big bulk loads do not rewrite it often
SNAPSHOT_MAX_AGE_SECONDS = 1800.0  # a checkpoint saves even a few changes once the snapshot is this old
COMPACT_MIN_LINES = 1000
STORE_BATCH = 256  # memories embedded and written per batch by imports and index rebuilds
MAX_LLM_FACTS = 5
MAX_PROFILE_KIND_CHARS = 40

CONSENT_GIVEN_HINT = (
    "The user just allowed you to remember things about them. Acknowledge it briefly; they can say "
    '"stop remembering things about me" at any time.'
)
CONSENT_WITHDRAWN_HINT = (
    "The user asked you to stop remembering things about them. Confirm briefly that nothing new will be stored "
    'and that saying "forget everything you know about me" erases what is already kept.'
)
FORGOTTEN_HINT = (
    "The user asked you to forget everything about them. It is done: everything stored about them has been "
    "deleted and nothing new will be stored. Confirm briefly; they can opt in again whenever they like."
)
SECRET_NOT_KEPT_HINT = (
    "The user asked you to remember what looks like a password, PIN, card number or key. You never store those, "
    "so it was not kept. Tell them briefly, and suggest a password manager instead."
)
NOT_OPTED_IN_HINT = (
    "The user asked you to remember something, but they have not allowed you to remember things about them, "
    'so nothing was stored. Tell them briefly they can say "you can remember stuff about me" to opt in.'
)
# What an explicit "remember ..." request did, so the reply says what really happened.
REMEMBERED_HINT = "You saved this to memory, as the user asked: {texts}. Confirm briefly."
ALREADY_KNOWN_HINT = "You already remembered this, so nothing new was stored: {texts}. Say so briefly."
UPDATED_HINT = "You replaced what you remembered, as the user asked: {changes}. Confirm the change briefly."


@dataclass(frozen=True, slots=True)
class _Draft:
    """A memory about to be stored: text plus what the caller and the extractor know about it."""

    text: str
    tags: tuple[str, ...]
    hard: bool
    slot: str | None
    created_at: float | None = None


class MemoryStore:
    """Consent-based long-term memory for all users. Build it with :meth:`open`."""

    def __init__(
        self,
        root: Path,
        embed_model_dir: Path,
        journal: Journal,
        state: MemoryState,
        index: VectorIndex,
        lock: StoreLock,
        *,
        clock: Callable[[], float],
        llm_extract: Callable[[str], list[str]] | None,
    ) -> None:
        self.root = root
        self._embed_model_dir = embed_model_dir
        self._journal = journal
        self._state = state
        self._index = index
        self._store_lock = lock
        self._clock = clock
        self._llm_extract = llm_extract
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._unsaved_changes = 0
        self._persisted_seen = dict(state.last_seen)
        self._snapshot_at = clock()
        self._closed = False

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        data_dir: Path,
        embed_model_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        llm_extract: Callable[[str], list[str]] | None = None,
    ) -> MemoryStore:
        """Open (or create) the store under ``data_dir/memory``.

        Damaged log lines are quarantined; a missing, damaged or stale index is rebuilt
        from the log (logged). ``llm_extract`` (text -> fact sentences) adds LLM-assisted
        extraction; pass it only when ``settings.memory_llm_extraction`` is on.
        Only one open store per data dir at a time (this process or any other), held until
        :meth:`close`: raises StoreInUseError if it is already open, ModelError when the
        embedding model folder is missing.
        """
        check_model_dir(embed_model_dir)
        root = data_dir / "memory"
        index_dir = root / "index"
        root.mkdir(mode=0o700, parents=True, exist_ok=True)  # what people said about themselves: owner-only
        index_dir.mkdir(mode=0o700, exist_ok=True)
        # Before anything reads or rewrites files: another process may be writing them right now.
        lock = StoreLock.acquire(root)
        journal = Journal(root / "journal.jsonl", root / "quarantine.jsonl")
        try:
            remove_stale_temps(root)
            remove_stale_temps(index_dir)
            state = _replay(journal)
            try:
                index, entries = VectorIndex.load(index_dir)
            except IndexUnavailable as err:
                if state.memories:
                    log.warning("memory index %s; rebuilding it from %d records", err, len(state.memories))
                discard_snapshot(index_dir)
                index, entries = VectorIndex(DIM), {}
            store = cls(root, embed_model_dir, journal, state, index, lock, clock=clock, llm_extract=llm_extract)
            if store._reconcile(entries):
                store._save_index()
        except BaseException:
            journal.close()
            lock.release()
            raise
        return store

    def _reconcile(self, entries: Entries) -> int:
        """Bring the index in line with the log (after a crash or a rebuild); return how many labels changed."""
        state = self._state
        stale = [
            label
            for label, (memory_id, version) in entries.items()
            if (memory := state.memories.get(memory_id)) is None or memory.label != label or memory.version != version
        ]
        missing = [
            m
            for m in state.memories.values()
            if entries.get(m.label) != (m.id, m.version) or not self._index.is_live(m.label)
        ]
        self._index.remove([label for label in stale if label not in state.by_label])
        if missing:
            log.info("memory index: embedding %d records it did not have", len(missing))
        for start in range(0, len(missing), STORE_BATCH):
            batch = missing[start : start + STORE_BATCH]
            vectors = self._embed([m.text for m in batch])
            self._index.put([m.label for m in batch], vectors, threads=2)
        return len(stale) + len(missing)

    # -- consent ---------------------------------------------------------------------------------

    def has_consent(self, user_id: str) -> bool:
        """Whether the user has opted in to being remembered."""
        with self._lock:
            return user_id in self._state.consent

    def set_consent(self, user_id: str, on: bool, *, now: float | None = None) -> None:
        """Record an opt-in or a withdrawal (durable when this returns). Withdrawal stops storing at once."""
        now = self._now(now)
        _check_user_id(user_id)
        with self._lock:
            self._check_open()
            if (user_id in self._state.consent) == on:
                return
            self._journal.append([consent_event(user_id, on, now)])
            self._state.set_consent(user_id, on, now)
            log.info("memory consent %s", "given" if on else "withdrawn")

    # -- storing ----------------------------------------------------------------------------------

    def observe(self, user_id: str, text: str, *, tags: Sequence[str] = (), now: float | None = None) -> ObserveResult:
        """Take in one message from the user: consent changes, last-seen time, and facts worth keeping.

        Facts are stored only with consent, and secrets (passwords, PINs, card numbers, keys) never.
        ``tags`` are topic tags from the router. A withdrawal stops storing at once; a direct request
        to erase ("forget everything you know about me", "delete my data") also deletes everything
        about the user, as :meth:`forget` does, and says so in ``forgotten`` and ``reply_hint``.
        """
        now = self._now(now)
        reading = consent_rules.read_consent(clean_text(text))
        if reading.erase:
            self._forget_on_request(user_id)
            return ObserveResult(False, [], FORGOTTEN_HINT, forgotten=True)
        hint = ""
        if reading.change is not None:
            self.set_consent(user_id, reading.change, now=now)
            hint = CONSENT_GIVEN_HINT if reading.change else CONSENT_WITHDRAWN_HINT
        asked = reading.change is None and consent_rules.asks_to_remember(reading.remainder)
        if asked and mentions_secret(reading.remainder):
            hint = SECRET_NOT_KEPT_HINT  # whatever else the message holds, the secret is what needs an answer
        if not self.has_consent(user_id):
            if asked and not hint:
                hint = NOT_OPTED_IN_HINT
            return ObserveResult(reading.change, [], hint)
        self.touch(user_id, now)
        kept = without_secrets(reading.remainder)
        facts = _unique_facts(extract_facts(kept) + self._llm_facts(kept))
        drafts = [_draft(fact, tags) for fact in facts]
        outcomes = self._store(user_id, drafts, now, require_consent=False) if drafts else []
        if asked and not hint:
            hint = _told(outcomes)
        return ObserveResult(reading.change, outcomes, hint)

    def add(
        self,
        user_id: str,
        text: str,
        *,
        tags: Sequence[str] = (),
        hard: bool = False,
        now: float | None = None,
    ) -> Outcome:
        """Store ``text`` as given; say whether it is a new memory, an update of the memory in the same slot
        ("I moved to Oslo" after "I live in Lisbon") or a duplicate of one already kept (see sel.memory.sameness).

        Raises ConsentError without consent, InputError for empty or overlong text or a secret.
        """
        now = self._now(now)
        text = checked_text(text)
        self._require_consent(user_id)
        return self._store(user_id, [_draft(fact_from_text(text, hard=hard), tags)], now, require_consent=True)[0]

    def import_jsonl(
        self, user_id: str, path: Path, *, skip_refused: bool = False, now: float | None = None
    ) -> ImportResult:
        """Store every memory in a JSON-lines file (see sel.memory.import_format); say what became of each line.

        The whole file is checked first: a bad line raises InputError naming it and nothing is stored,
        unless ``skip_refused``: then the good lines are stored and the bad ones listed in the result.
        """
        now = self._now(now)
        self._require_consent(user_id)
        checked = read_import_file(path, skip_refused=skip_refused)
        outcomes: list[Outcome] = []
        for start in range(0, len(checked.items), STORE_BATCH):
            drafts = [
                _draft(fact_from_text(item.text, hard=item.hard), item.tags, created_at=item.created_at)
                for item in checked.items[start : start + STORE_BATCH]
            ]
            outcomes += self._store(user_id, drafts, now, require_consent=True)
        return ImportResult(checked.lines, tuple(outcomes), tuple(checked.refused))

    def add_many(
        self, user_id: str, texts: Sequence[str], *, tags: Sequence[str] = (), now: float | None = None
    ) -> list[Outcome]:
        """Store several texts in one batch (one embedding pass, one fsync); ConsentError without consent."""
        now = self._now(now)
        self._require_consent(user_id)
        drafts = [_draft(fact_from_text(checked_text(text)), tags) for text in texts]
        return self._store(user_id, drafts, now, require_consent=True)

    def _store(self, user_id: str, drafts: list[_Draft], now: float, *, require_consent: bool) -> list[Outcome]:
        vectors = self._embed([d.text for d in drafts])  # outside the lock: the slow part
        with self._lock:
            self._check_open()
            if user_id not in self._state.consent:
                if require_consent:
                    raise _consent_error(user_id)
                return []  # consent was withdrawn while we were embedding
            outcomes: list[Outcome] = []
            written = 0
            try:
                for draft, vector in zip(drafts, vectors, strict=True):
                    outcome = self._placed(user_id, draft, vector, now)
                    outcomes.append(outcome)
                    memory = outcome.memory
                    if memory == self._state.memories.get(memory.id):
                        continue  # a duplicate that adds nothing: nothing to write
                    self._journal.write([put_event(memory)])
                    self._state.put(memory)
                    if outcome.action != "duplicate":  # a duplicate keeps its text, so its vector stays
                        self._index.put([memory.label], vector)
                    written += 1
            finally:
                self._journal.sync()
            self._changed(written)
            return outcomes

    def _placed(self, user_id: str, draft: _Draft, vector: np.ndarray, now: float) -> Outcome:
        """What ``draft`` becomes: an update of the memory in its slot, a duplicate of a kept memory, or a new one."""
        state = self._state
        same_slot = state.by_slot.get((user_id, draft.slot)) if draft.slot else None
        if same_slot is not None:
            existing = state.memories[same_slot]
            cosine = float(self._index.vectors([existing.label])[0] @ vector)
            if same_fact(draft.text, existing.text, cosine):
                return Outcome("duplicate", _repeated(existing, draft, now))
            # A newer, different fact in the same slot: it replaces the old one ("I moved to Berlin").
            updated = existing.revised(
                text=draft.text,
                tags=draft.tags,
                hard=draft.hard or existing.hard,
                created_at=draft.created_at or now,
                updated_at=now,
            )
            return Outcome("updated", updated, previous_text=existing.text)
        duplicate = self._duplicate_of(user_id, draft, vector)
        if duplicate is not None:
            return Outcome("duplicate", _repeated(duplicate, draft, now))
        return Outcome("stored", self._new_memory(user_id, draft, now))

    def _duplicate_of(self, user_id: str, draft: _Draft, vector: np.ndarray) -> Memory | None:
        """The user's memory that already states ``draft``'s fact, if any (the nearest few are checked)."""
        labels = self._state.labels_by_user.get(user_id, set())
        for label, cosine in self._index.search(vector, labels, k=DUPLICATE_CANDIDATES):
            existing = self._state.memory_at(label)
            if existing.slot and draft.slot and existing.slot != draft.slot:
                continue  # "my cat is called Tom" / "my dog is called Tom": about different things
            if same_fact(draft.text, existing.text, cosine):
                return existing
        return None

    def _new_memory(self, user_id: str, draft: _Draft, now: float) -> Memory:
        return Memory(
            id=secrets.token_hex(8),
            user_id=user_id,
            text=draft.text,
            tags=draft.tags,
            hard=draft.hard,
            created_at=draft.created_at or now,
            updated_at=now,
            label=self._state.allocate_label(),
            slot=draft.slot,
        )

    def _llm_facts(self, text: str) -> list[Fact]:
        if self._llm_extract is None or len(text.split()) < 3:
            return []
        try:
            lines = self._llm_extract(text)
        except Exception:  # the extractor is a model call: any failure falls back to the rule-based facts
            log.warning("LLM fact extraction failed; keeping only the rule-based facts", exc_info=True)
            return []
        facts = []
        for line in list(lines)[:MAX_LLM_FACTS]:
            if isinstance(line, str) and 0 < len(line.strip()) <= MAX_TEXT_CHARS and not is_secret(line):
                facts.append(fact_from_text(line.strip()))
        return facts

    # -- last seen and expiry -----------------------------------------------------------------------

    def touch(self, user_id: str, now: float | None = None) -> None:
        """Mark the user as seen, extending their soft memories (nothing is stored without consent)."""
        now = self._now(now)
        with self._lock:
            self._check_open()
            if user_id not in self._state.consent:
                return
            self._state.mark_seen(user_id, now)
            if now - self._persisted_seen.get(user_id, float("-inf")) >= SEEN_PERSIST_SECONDS:
                self._journal.append([seen_event(user_id, now)])
                self._persisted_seen[user_id] = now
                self._compact_if_due()

    def prune_expired(self, now: float | None = None) -> int:
        """Delete soft memories whose TTL has run out; return how many. Run it periodically (see run_pruner)."""
        now = self._now(now)
        with self._lock:
            self._check_open()
            state = self._state
            expired = [
                memory
                for user_id, memories in state.by_user.items()
                for memory in memories.values()
                if is_expired(memory, state.last_seen.get(user_id), now)
            ]
            if not expired:
                return 0
            self._journal.append(delete_event(m.id) for m in expired)
            for memory in expired:
                state.delete(memory.id)
            self._index.remove([m.label for m in expired])
            self._changed(len(expired))
            log.info("pruned %d expired memories", len(expired))
            return len(expired)

    # -- recall ---------------------------------------------------------------------------------------

    def recall(
        self,
        user_id: str,
        query: str,
        *,
        k: int = 5,
        now: float | None = None,
        min_similarity: float = MIN_SIMILARITY,
    ) -> list[Recalled]:
        """The user's ``k`` memories most relevant to ``query``, best first; only that user's, only with consent.

        Relevance is cosine similarity, lifted for memories that name the numbers, names or dates the
        query names ("trip 17"; embeddings hardly tell those apart), at least ``min_similarity`` with
        the lift, and nudged by recency and hardness. Expired soft memories are never returned, even
        before the pruner deletes them.
        """
        now = self._now(now)
        query = clean_text(query)
        if k <= 0 or not query:
            return []
        details = query_details(query)
        with self._lock:
            if user_id not in self._state.consent or user_id not in self._state.labels_by_user:
                return []
        vector = self._embedder_instance().embed_query(query)  # outside the lock: the slow part
        with self._lock:
            self._check_open()
            if user_id not in self._state.consent:
                return []
            allowed = self._recallable_labels(user_id, now)
            hits = self._index.search(vector, allowed, k=max(4 * k, 20))
            if details:
                hits += self._naming(details, vector, allowed, skip={label for label, _ in hits})
            ranked = []
            for label, similarity in hits:
                memory = self._state.memory_at(label)
                if memory.user_id != user_id:
                    raise RuntimeError("memory index returned another user's memory")  # never reachable; never leak
                lift = NAMED_DETAIL_BONUS * named_share(details, memory.text)
                if similarity + lift >= min_similarity:
                    score = recall_score(similarity, memory, now) + lift
                    ranked.append(
                        Recalled(memory.id, memory.text, score, similarity, memory.tags, memory.hard, memory.created_at)
                    )
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked[:k]

    def _naming(
        self, details: frozenset[str], vector: np.ndarray, allowed: set[int], *, skip: set[int]
    ) -> list[tuple[int, float]]:
        """(label, cosine) of the ``allowed`` memories that name one of ``details``: the nearest neighbours
        by embedding can miss the one fact among many similar ones that names "trip 17"."""
        labels = [
            label
            for label in allowed
            if label not in skip and named_share(details, self._state.memory_at(label).text) > 0
        ]
        if not labels:
            return []
        return list(zip(labels, (float(c) for c in self._index.vectors(labels) @ vector), strict=True))

    def _recallable_labels(self, user_id: str, now: float) -> set[int]:
        labels = self._state.labels_by_user.get(user_id, set())
        last_seen = self._state.last_seen.get(user_id)
        if last_seen is not None and now < last_seen + SOFT_TTL_SECONDS:
            return labels  # seen recently: nothing of theirs has expired
        memories = self._state.by_user.get(user_id, {})
        return {m.label for m in memories.values() if not is_expired(m, last_seen, now)}

    # -- profiles -------------------------------------------------------------------------------------

    def get_profile(self, user_id: str, kind: str) -> dict[str, Any] | None:
        """A stored profile (e.g. kind="style"), or None if there is none or the user has not consented."""
        with self._lock:
            if user_id not in self._state.consent:
                return None
            data = self._state.profiles.get(user_id, {}).get(kind)
            return None if data is None else orjson.loads(orjson.dumps(data))

    def put_profile(self, user_id: str, kind: str, data: dict[str, Any]) -> bool:
        """Store a profile (JSON-able dict); False and nothing stored without consent."""
        if not kind or len(kind) > MAX_PROFILE_KIND_CHARS:
            raise ValueError(f"profile kind must be 1-{MAX_PROFILE_KIND_CHARS} characters")
        copy = orjson.loads(orjson.dumps(data))  # raises TypeError for data that is not JSON
        with self._lock:
            self._check_open()
            if user_id not in self._state.consent:
                return False
            self._journal.append([profile_event(user_id, kind, copy)])
            self._state.set_profile(user_id, kind, copy)
            self._compact_if_due()  # style profiles are rewritten on every message
            return True

    # -- owner tools ------------------------------------------------------------------------------------

    def forget(self, user_id: str) -> None:
        """Erase everything about the user: memories, vectors, profiles, consent, last-seen, quarantined lines.

        The log is rewritten without them and a fresh index snapshot replaces the old files.
        """
        _check_user_id(user_id)
        with self._lock:
            self._check_open()
            removed = self._state.forget(user_id)
            self._index.remove([m.label for m in removed])
            forget_cached()
            self._persisted_seen.pop(user_id, None)
            self._journal.rewrite(self._state.events())
            scrubbed = self._journal.scrub_quarantine(orjson.dumps(user_id))
            self._save_index()
            log.info("forgot a user: %d memories, %d quarantined lines erased", len(removed), scrubbed)

    def _forget_on_request(self, user_id: str) -> None:
        """Erase the user because they asked in conversation; a user we hold nothing about costs no rewrite."""
        with self._lock:  # held across forget (re-entrant), so nothing is stored between the check and the erase
            if user_id in self._state.users():
                self.forget(user_id)

    def export(self, user_id: str, *, now: float | None = None) -> dict[str, Any]:
        """Everything stored about the user, as plain JSON data (vectors are derived from the texts and omitted)."""
        now = self._now(now)
        with self._lock:
            state = self._state
            last_seen = state.last_seen.get(user_id)
            memories = sorted(state.user_memories(user_id), key=lambda m: m.created_at)
            return {
                "user_id": user_id,
                "consent": user_id in state.consent,
                "consented_at": state.consent.get(user_id),
                "last_seen": last_seen,
                "memories": [
                    {**m.to_json(), "expires_at": expires_at(m, last_seen), "expired": is_expired(m, last_seen, now)}
                    for m in memories
                ],
                "profiles": orjson.loads(orjson.dumps(state.profiles.get(user_id, {}))),
            }

    def svg(self, user_id: str, *, now: float | None = None) -> str:
        """The user's memory map as an SVG document (see sel.memory.svg)."""
        from sel.memory.svg import render_memory_map

        now = self._now(now)
        with self._lock:
            last_seen = self._state.last_seen.get(user_id)
            memories = [m for m in self._state.user_memories(user_id) if not is_expired(m, last_seen, now)]
            vectors = self._index.vectors([m.label for m in memories])
        return render_memory_map(memories, vectors, now=now, title=f"Memories of {user_id}")

    def stats(self) -> dict[str, Any]:
        """Counts for the owner (no user text, no user ids)."""
        with self._lock:
            state = self._state
            hard = sum(1 for m in state.memories.values() if m.hard)
            return {
                "users": len(state.users()),
                "consenting_users": len(state.consent),
                "memories": len(state.memories),
                "hard": hard,
                "soft": len(state.memories) - hard,
                "profiles": sum(len(p) for p in state.profiles.values()),
                "index_live": self._index.live_count,
                "index_extent": self._index.extent,
                "unsaved_index_changes": self._unsaved_changes,
                "journal_lines": self._journal.line_count,
                "journal_bytes": self._journal.size_bytes(),
                "quarantined_lines": len(self._journal.quarantined_lines()),
                "path": str(self.root),
            }

    # -- housekeeping --------------------------------------------------------------------------------------

    def checkpoint(self, *, force: bool = False) -> None:
        """Save the index snapshot if it has changes worth saving, and compact the log if it has grown stale.

        A few changes are saved once the snapshot is SNAPSHOT_MAX_AGE_SECONDS old (or with ``force``):
        the snapshot can be large, and changes it misses are only re-embedded after a crash.
        """
        with self._lock:
            self._check_open()
            stale = self._clock() - self._snapshot_at >= SNAPSHOT_MAX_AGE_SECONDS
            if self._unsaved_changes and (force or stale or self._unsaved_changes >= SNAPSHOT_MIN_CHANGES):
                self._save_index()
            self._compact_if_due()

    def close(self) -> None:
        """Checkpoint and release files. The store cannot be used afterwards."""
        with self._lock:
            if self._closed:
                return
            try:
                self.checkpoint(force=True)
            finally:
                # Even if the last checkpoint fails (disk full), the next open must not find the store locked.
                self._journal.close()
                self._store_lock.release()
                self._closed = True

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _changed(self, count: int) -> None:
        self._unsaved_changes += count
        if self._unsaved_changes >= max(SNAPSHOT_MIN_CHANGES, SNAPSHOT_FRACTION * self._index.live_count):
            self._save_index()
        self._compact_if_due()

    def _save_index(self) -> None:
        entries = {m.label: (m.id, m.version) for m in self._state.memories.values()}
        self._index.save(self.root / "index", entries)
        self._unsaved_changes = 0
        self._snapshot_at = self._clock()

    def _compact_if_due(self) -> None:
        if self._journal.line_count > 2 * self._state.event_count() + COMPACT_MIN_LINES:
            self._journal.rewrite(self._state.events())
            log.info("compacted the memory log to %d lines", self._journal.line_count)

    # -- small pieces ------------------------------------------------------------------------------------------

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this MemoryStore is closed")

    def _require_consent(self, user_id: str) -> None:
        if not self.has_consent(user_id):
            raise _consent_error(user_id)

    def _embedder_instance(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self._embed_model_dir)
        return self._embedder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder_instance().embed_documents(texts)


def _replay(journal: Journal) -> MemoryState:
    """Rebuild the view from the log, quarantining lines that cannot be trusted."""
    state = MemoryState()
    contents = journal.read()
    damaged: list[bytes] = []
    for number, line in contents.lines:
        try:
            state.apply(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError, TypeError) as err:
            log.warning("memory log line %d is damaged (%s); moved to %s", number, err, journal.quarantine_path.name)
            damaged.append(line)
    if contents.torn_tail is not None:
        log.warning("memory log ends in a line cut short by a crash; moved to %s", journal.quarantine_path.name)
        damaged.append(contents.torn_tail)
    if damaged:
        journal.quarantine(damaged)
        journal.rewrite(state.events())  # so the next append does not glue onto a torn line
    return state


def _draft(fact: Fact, tags: Iterable[str], *, created_at: float | None = None) -> _Draft:
    all_tags = normalize_tags([*tags, fact.topic, *keywords(fact.text)])
    return _Draft(fact.text, all_tags, fact.hard, fact.slot, created_at)


def _repeated(existing: Memory, draft: _Draft, now: float) -> Memory:
    """The memory after its fact was said again: unchanged, unless the repeat asks for it to be permanent."""
    if existing.hard or not draft.hard:
        return existing
    return existing.revised(hard=True, updated_at=now)


def _told(outcomes: Sequence[Outcome]) -> str:
    """The reply hint for an explicit "remember ...": what was stored, updated or already known."""
    parts = []
    stored = [o.memory.text for o in outcomes if o.action == "stored"]
    known = [o.memory.text for o in outcomes if o.action == "duplicate"]
    changes = [f'"{o.previous_text}" is now "{o.memory.text}"' for o in outcomes if o.action == "updated"]
    if stored:
        parts.append(REMEMBERED_HINT.format(texts=_quoted(stored)))
    if changes:
        parts.append(UPDATED_HINT.format(changes="; ".join(changes)))
    if known:
        parts.append(ALREADY_KNOWN_HINT.format(texts=_quoted(known)))
    return " ".join(parts)


def _quoted(texts: Sequence[str]) -> str:
    return ", ".join(f'"{text}"' for text in texts)


def _unique_facts(facts: list[Fact]) -> list[Fact]:
    seen: set[str] = set()
    out = []
    for fact in facts:
        key = fact.text.lower()
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


def _check_user_id(user_id: str) -> None:
    if not valid_user_id(user_id):
        raise InputError(
            f"user id {user_id!r} cannot be stored; use a Discord user id (digits) or 'local' for the terminal user"
        )


def _consent_error(user_id: str) -> ConsentError:
    return ConsentError(
        f"user {user_id} has not opted in to memory, so nothing about them can be stored; they can say "
        f'"you can remember stuff about me", or run `sel memory consent {user_id} on`'
    )
