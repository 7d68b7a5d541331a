"""Storing memories: where each new fact goes (new, an update of its slot, or a duplicate) and writing it.

Every writer ends in :func:`write_drafts`: the texts are embedded outside the lock (the slow
part; an import embeds its next batch while writing one), then, under the lock, consent is
checked again, each fact is placed, and the log is fsync'd before it returns. Whether two
texts state the same fact is sel.memory.sameness's call.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sel.memory.admission import checked_text
from sel.memory.consent_book import consent_error, require_consent
from sel.memory.core import StoreCore
from sel.memory.episodes import next_turn, same_episode
from sel.memory.extraction import Fact, fact_from_text, keywords
from sel.memory.import_format import read_import_file
from sel.memory.records import MAX_HISTORY, ImportResult, Kind, Memory, Outcome, PastVersion, normalize_tags
from sel.memory.sameness import same_fact
from sel.memory.scopes import ANY, merged
from sel.memory.state import put_event

if TYPE_CHECKING:
    import numpy as np

# Memories an import embeds in one step, and steps embedding ahead while one is written. Measured on
# two cores with four embedding workers, 3 000 memories: one step ahead of 256 imported 521/s, two
# ahead of 64: 540/s, of 128: 530/s; in files of 100 lines, 468-482/s and 488/s (one ahead of 256
# leaves the cores idle while a whole file is written).
IMPORT_STEP = 64
IMPORT_AHEAD = 2
DUPLICATE_CANDIDATES = 8  # the user's nearest memories checked for being the same fact as a new one


@dataclass(frozen=True, slots=True)
class Draft:
    """A memory about to be stored: text plus what the caller and the extractor know about it."""

    text: str
    tags: tuple[str, ...]
    hard: bool
    slot: str | None
    created_at: float | None = None
    scope: str = ANY  # where it may come back (sel.memory.scopes)
    kind: Kind = "fact"
    channel: str | None = None  # an episode's conversation


def draft(fact: Fact, tags: Iterable[str], *, created_at: float | None = None, scope: str = ANY) -> Draft:
    """``fact`` ready to store, tagged with the caller's tags, its topic and its keywords."""
    all_tags = normalize_tags([*tags, fact.topic, *keywords(fact.text)])
    return Draft(fact.text, all_tags, fact.hard, fact.slot, created_at, scope)


def add(
    core: StoreCore, user_id: str, text: str, tags: Sequence[str], hard: bool, now: float, *, scope: str = ANY
) -> Outcome:
    """Store ``text`` as given; ConsentError without consent, InputError for text that cannot be a memory."""
    text = checked_text(text)
    require_consent(core, user_id)
    fact = draft(fact_from_text(text, hard=hard), tags, scope=scope)
    return store_drafts(core, user_id, [fact], now, require_consent=True)[0]


def add_many(core: StoreCore, user_id: str, texts: Sequence[str], tags: Sequence[str], now: float) -> list[Outcome]:
    """Store several texts in one batch (one embedding pass, one fsync); ConsentError without consent."""
    require_consent(core, user_id)
    drafts = [draft(fact_from_text(checked_text(text)), tags) for text in texts]
    return store_drafts(core, user_id, drafts, now, require_consent=True)


def import_jsonl(core: StoreCore, user_id: str, path: Path, *, skip_refused: bool, now: float) -> ImportResult:
    """Store every memory in a JSON-lines file (see sel.memory.import_format), in batches."""
    require_consent(core, user_id)
    checked = read_import_file(path, skip_refused=skip_refused)
    drafts = [
        draft(fact_from_text(item.text, hard=item.hard), item.tags, created_at=item.created_at, scope=item.scope)
        for item in checked.items
    ]
    outcomes: list[Outcome] = []
    for batch, vectors in embedded_ahead(core, drafts):
        outcomes += write_drafts(core, user_id, batch, vectors, now, require_consent=True)
    return ImportResult(checked.lines, tuple(outcomes), tuple(checked.refused))


def embedded_ahead(
    core: StoreCore, drafts: list[Draft], size: int | None = None, ahead: int | None = None
) -> Iterator[tuple[list[Draft], np.ndarray]]:
    """``drafts`` in even steps of at most ``size`` (default IMPORT_STEP), each with its vectors.

    ``ahead`` steps (default IMPORT_AHEAD) embed while the caller writes one, so the embedder always
    has a queued step for the core that finishes first, and no core waits while a step is written.
    """
    size, ahead = size or IMPORT_STEP, ahead or IMPORT_AHEAD
    count = -(-len(drafts) // size)
    if not count:
        return
    even = -(-len(drafts) // count)  # 100 lines in steps of at most 64: two of 50, not 64 and a straggler of 36
    steps = [drafts[start : start + even] for start in range(0, len(drafts), even)]
    with ThreadPoolExecutor(ahead, thread_name_prefix="sel-import") as pool:
        pending = deque(pool.submit(core.embed, [d.text for d in step]) for step in steps[:ahead])
        for i, step in enumerate(steps):
            vectors = pending.popleft().result()
            if i + ahead < len(steps):
                pending.append(pool.submit(core.embed, [d.text for d in steps[i + ahead]]))
            yield step, vectors  # closed early (consent withdrawn): leaving the pool waits for the embeddings


def store_drafts(
    core: StoreCore, user_id: str, drafts: list[Draft], now: float, *, require_consent: bool
) -> list[Outcome]:
    """Embed, place and write ``drafts``; durable when this returns (see :func:`write_drafts`)."""
    vectors = core.embed([d.text for d in drafts])  # outside the lock: the slow part
    return write_drafts(core, user_id, drafts, vectors, now, require_consent=require_consent)


def write_drafts(
    core: StoreCore, user_id: str, drafts: list[Draft], vectors: np.ndarray, now: float, *, require_consent: bool
) -> list[Outcome]:
    """Place and write embedded ``drafts``; durable when this returns.

    If consent was withdrawn while embedding: ConsentError with ``require_consent``, else nothing stored.
    """
    with core.lock:
        core.check_open()
        if user_id not in core.state.consent:
            if require_consent:
                raise consent_error(user_id)
            return []  # consent was withdrawn while we were embedding
        outcomes: list[Outcome] = []
        written = 0
        try:
            for one, vector in zip(drafts, vectors, strict=True):
                outcome = _placed(core, user_id, one, vector, now)
                outcomes.append(outcome)
                written += _write(core, outcome, vector)
        finally:
            core.journal.sync()
        core.changed(written)
        return outcomes


def _write(core: StoreCore, outcome: Outcome, vector: np.ndarray) -> int:
    """Log and apply one outcome (not yet fsync'd); 1 if it changed anything, else 0."""
    memory = outcome.memory
    if memory == core.state.memories.get(memory.id):
        return 0  # a duplicate that adds nothing: nothing to write
    core.journal.write([put_event(memory)])
    core.state.put(memory)
    if outcome.action != "duplicate":  # a duplicate keeps its text, so its vector stays
        core.index.put([memory.label], vector)
    return 1


def _placed(core: StoreCore, user_id: str, new: Draft, vector: np.ndarray, now: float) -> Outcome:
    """What ``new`` becomes: an update of the memory in its slot, a duplicate of a kept memory, or a new one."""
    state = core.state
    if new.kind == "episode":
        return _placed_episode(core, user_id, new, now)
    same_slot = state.by_slot.get((user_id, new.slot)) if new.slot else None
    if same_slot is not None:
        existing = state.memories[same_slot]
        cosine = float(core.index.vectors([existing.label])[0] @ vector)
        if same_fact(new.text, existing.text, cosine):
            return Outcome("duplicate", _repeated(existing, new, now))
        # A newer, different fact in the same slot: it replaces the old one ("I moved to Berlin"),
        # and the old one is kept as a past version with the time it stopped being true.
        said_at = new.created_at or now
        updated = existing.revised(
            text=new.text,
            tags=new.tags,
            hard=new.hard or existing.hard,
            created_at=said_at,
            updated_at=now,
            said_at=said_at,
            history=_with_past(existing, said_at),
            scope=new.scope,  # where the newer statement was made: the older place never heard it
        )
        return Outcome("updated", updated, previous_text=existing.text)
    duplicate = _duplicate_of(core, user_id, new, vector)
    if duplicate is not None:
        return Outcome("duplicate", _repeated(duplicate, new, now))
    return Outcome("stored", _new_memory(core, user_id, new, now))


def _with_past(existing: Memory, replaced_at: float) -> tuple[PastVersion, ...]:
    """``existing``'s history plus its current text, valid from when it was said until ``replaced_at``."""
    past = PastVersion(existing.text, existing.when_said, max(existing.when_said, replaced_at))
    return (*existing.history, past)[-MAX_HISTORY:]


def _placed_episode(core: StoreCore, user_id: str, new: Draft, now: float) -> Outcome:
    """A turn is new unless the person said exactly this in that conversation before (then it is a duplicate)."""
    repeated = same_episode(core.state, user_id, new.channel or "", new.text)
    if repeated is not None:
        return Outcome("duplicate", _repeated(repeated, new, now))
    return Outcome("stored", _new_memory(core, user_id, new, now))


def _duplicate_of(core: StoreCore, user_id: str, new: Draft, vector: np.ndarray) -> Memory | None:
    """The user's memory that already states ``new``'s fact, if any (the nearest few are checked)."""
    labels = core.state.labels_by_user.get(user_id, set())
    for label, cosine in core.index.search(vector, labels, k=DUPLICATE_CANDIDATES):
        existing = core.state.memory_at(label)
        if existing.kind == "episode":
            continue  # a turn kept whole is not a fact: a fact said in it is still worth keeping
        if existing.slot and new.slot and existing.slot != new.slot:
            continue  # "my cat is called Tom" / "my dog is called Tom": about different things
        if same_fact(new.text, existing.text, cosine):
            return existing
    return None


def _new_memory(core: StoreCore, user_id: str, new: Draft, now: float) -> Memory:
    return Memory(
        id=secrets.token_hex(8),
        user_id=user_id,
        text=new.text,
        tags=new.tags,
        hard=new.hard,
        created_at=new.created_at or now,
        updated_at=now,
        label=core.state.allocate_label(),
        slot=new.slot,
        said_at=new.created_at or now,  # the message's time, or the import's created_at
        scope=new.scope,
        kind=new.kind,
        channel=new.channel,
        turn=next_turn(core.state, user_id, new.channel or "") if new.kind == "episode" else None,
    )


def _repeated(existing: Memory, new: Draft, now: float) -> Memory:
    """The memory after its fact was said again: unchanged, unless the repeat asks for it to be permanent
    or was said somewhere it may not come back yet (then it may come back there too)."""
    scope = merged(existing.scope, new.scope)
    if (existing.hard or not new.hard) and scope == existing.scope:
        return existing
    return existing.revised(hard=existing.hard or new.hard, scope=scope, updated_at=now)
