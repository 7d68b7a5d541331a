"""An open store's life: opening (replaying the log, reconciling the index), last-seen times, expiry and erasure.

Opening locks the store's folder first, then rebuilds the view from the log (damaged lines are
quarantined) and brings the index in line with it, re-embedding what the snapshot lacks.
Forgetting a user, or deleting one memory, rewrites the log without them, scrubs the quarantined
lines that hold them and saves a fresh index snapshot, so nothing of theirs survives on disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import orjson

from sel.atomic_files import remove_stale_temps
from sel.errors import InputError
from sel.memory.core import STORE_BATCH, StoreCore, check_user_id
from sel.memory.details import forget_cached
from sel.memory.embeddings import DIM, check_model_dir
from sel.memory.index import Entries, IndexUnavailable, VectorIndex, discard_snapshot
from sel.memory.journal import Journal
from sel.memory.records import Memory
from sel.memory.retention import is_expired
from sel.memory.state import MemoryState, delete_event, seen_event
from sel.memory.store_lock import StoreLock

log = logging.getLogger(__name__)

SEEN_PERSIST_SECONDS = 600.0  # last-seen times are written at most this often per user


def open_core(data_dir: Path, embed_model_dir: Path, *, clock: Callable[[], float]) -> StoreCore:
    """Open (or create) the store under ``data_dir/memory`` (see MemoryStore.open)."""
    check_model_dir(embed_model_dir)
    root = data_dir / "memory"
    index_dir = root / "index"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)  # what people said about themselves: owner-only
    index_dir.mkdir(mode=0o700, exist_ok=True)
    # Before anything reads or rewrites files: another process may be writing them right now.
    file_lock = StoreLock.acquire(root)
    journal = Journal(root / "journal.jsonl", root / "quarantine.jsonl")
    try:
        remove_stale_temps(root)
        remove_stale_temps(index_dir)
        state = replay(journal)
        try:
            index, entries = VectorIndex.load(index_dir)
        except IndexUnavailable as err:
            if state.memories:
                log.warning("memory index %s; rebuilding it from %d records", err, len(state.memories))
            discard_snapshot(index_dir)
            index, entries = VectorIndex(DIM), {}
        core = StoreCore(root, embed_model_dir, journal, state, index, file_lock, clock=clock)
        if reconcile(core, entries):
            core.save_index()
    except BaseException:
        journal.close()
        file_lock.release()
        raise
    return core


def replay(journal: Journal) -> MemoryState:
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


def reconcile(core: StoreCore, entries: Entries) -> int:
    """Bring the index in line with the log (after a crash or a rebuild); return how many labels changed."""
    state, index = core.state, core.index
    stale = [
        label
        for label, (memory_id, version) in entries.items()
        if (memory := state.memories.get(memory_id)) is None or memory.label != label or memory.version != version
    ]
    missing = [
        m for m in state.memories.values() if entries.get(m.label) != (m.id, m.version) or not index.is_live(m.label)
    ]
    index.remove([label for label in stale if label not in state.by_label])
    if missing:
        log.info("memory index: embedding %d records it did not have", len(missing))
        # Sorted by length across all batches, not only within one: less padding (a rebuild is all this).
        missing.sort(key=lambda m: len(m.text))
    for start in range(0, len(missing), STORE_BATCH):
        batch = missing[start : start + STORE_BATCH]
        vectors = core.embed([m.text for m in batch])
        index.put([m.label for m in batch], vectors, threads=2)
    return len(stale) + len(missing)


def touch(core: StoreCore, user_id: str, now: float) -> None:
    """Mark the user as seen, extending their soft memories (nothing is stored without consent)."""
    with core.lock:
        core.check_open()
        if user_id not in core.state.consent:
            return
        core.state.mark_seen(user_id, now)
        if now - core.persisted_seen.get(user_id, float("-inf")) >= SEEN_PERSIST_SECONDS:
            core.journal.append([seen_event(user_id, now)])
            core.persisted_seen[user_id] = now
            core.compact_if_due()


def prune_expired(core: StoreCore, now: float) -> int:
    """Delete soft memories whose TTL has run out; return how many."""
    with core.lock:
        core.check_open()
        state = core.state
        expired = [
            memory
            for user_id, memories in state.by_user.items()
            for memory in memories.values()
            if is_expired(memory, state.last_seen.get(user_id), now)
        ]
        if not expired:
            return 0
        core.journal.append(delete_event(m.id) for m in expired)
        for memory in expired:
            state.delete(memory.id)
        core.index.remove([m.label for m in expired])
        core.changed(len(expired))
        log.info("pruned %d expired memories", len(expired))
        return len(expired)


def forget(core: StoreCore, user_id: str) -> None:
    """Erase everything about the user: memories, vectors, profiles, consent, last-seen, quarantined lines.

    Quarantined lines go if they name the user, or any of their memories' ids or texts: a damaged
    line may have lost its user id but still hold what they said.
    """
    check_user_id(user_id)
    with core.lock:
        core.check_open()
        removed = core.state.forget(user_id)
        core.index.remove([m.label for m in removed])
        forget_cached()
        core.persisted_seen.pop(user_id, None)
        core.journal.rewrite(core.state.events())
        needles = [orjson.dumps(user_id), *(n for m in removed for n in traces(m))]
        scrubbed = core.journal.scrub_quarantine(*needles)
        core.save_index()
        log.info("forgot a user: %d memories, %d quarantined lines erased", len(removed), scrubbed)


def delete_memory(core: StoreCore, user_id: str, memory_id: str) -> Memory:
    """Erase one of the user's memories, past versions included, leaving no trace on disk; return it.

    The log is rewritten without its lines (appending a delete would keep the old ones), its vector is
    overwritten before the index snapshot is saved afresh, and quarantined lines holding its id or any
    of its texts are removed. InputError when the user has no memory with that id (another user's
    memory is never touched).
    """
    check_user_id(user_id)
    with core.lock:
        core.check_open()
        memory = core.state.memories.get(memory_id)
        if memory is None or memory.user_id != user_id:
            raise InputError(f"{user_id} has no memory with id {memory_id!r}; list their memories to see the ids")
        core.state.delete(memory_id)
        core.index.remove([memory.label])
        forget_cached()
        core.journal.rewrite(core.state.events())
        scrubbed = core.journal.scrub_quarantine(*traces(memory))
        core.save_index()
        log.info("deleted one memory on request; %d quarantined lines erased", scrubbed)
        return memory


def traces(memory: Memory) -> list[bytes]:
    """The byte strings that would show a memory in a damaged log line: its id and every text it held,
    raw and as JSON escapes them (orjson keeps non-ASCII as is, other writers escape it)."""
    needles = [memory.id.encode()]
    for text in (memory.text, *(past.text for past in memory.history)):
        needles += [text.encode(), orjson.dumps(text)[1:-1], json.dumps(text)[1:-1].encode()]
    return needles


def forget_on_request(core: StoreCore, user_id: str) -> None:
    """Erase the user because they asked in conversation; a user we hold nothing about costs no rewrite."""
    with core.lock:  # held across forget (re-entrant), so nothing is stored between the check and the erase
        if user_id in core.state.users():
            forget(core, user_id)
