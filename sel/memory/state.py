"""The in-memory view of the record log: who consented, when they were last seen, their memories and profiles.

The log holds *events*; :meth:`MemoryState.apply` folds one event into the view and
raises ValueError for an event it cannot trust (so the caller can quarantine its line).
:meth:`MemoryState.events` turns the view back into the shortest equivalent log.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from sel.memory.records import Memory

log = logging.getLogger(__name__)

# A logged label at or beyond this plus twice the memories replayed so far is not trusted as is.
# SEL hands out the lowest free label, so new labels never exceed the memory count; only a log
# compacted after many deletions, or a damaged line, holds larger ones.
LABEL_ROOM = 1024


def consent_event(user_id: str, on: bool, at: float) -> dict[str, Any]:
    return {"op": "consent", "user": user_id, "on": on, "at": at}


def seen_event(user_id: str, at: float) -> dict[str, Any]:
    return {"op": "seen", "user": user_id, "at": at}


def put_event(memory: Memory) -> dict[str, Any]:
    return {"op": "put", "memory": memory.to_json()}


def delete_event(memory_id: str) -> dict[str, Any]:
    return {"op": "delete", "id": memory_id}


def profile_event(user_id: str, kind: str, data: dict[str, Any] | None) -> dict[str, Any]:
    return {"op": "profile", "user": user_id, "kind": kind, "data": data}


class MemoryState:
    """Everything the log says, indexed for the store's lookups."""

    def __init__(self) -> None:
        self.memories: dict[str, Memory] = {}
        self.by_user: dict[str, dict[str, Memory]] = {}
        self.labels_by_user: dict[str, set[int]] = {}
        self.by_label: dict[int, str] = {}
        self.by_slot: dict[tuple[str, str], str] = {}
        self.episodes: dict[tuple[str, str], set[str]] = {}  # (user, channel) -> ids of their episodes there
        self.consent: dict[str, float] = {}  # user -> when they opted in; absent means no consent
        self.last_seen: dict[str, float] = {}
        self.profiles: dict[str, dict[str, dict[str, Any]]] = {}
        self.label_extent = 0  # every label in use is below this
        self._free_labels: list[int] = []
        self._relabelled: set[str] = set()  # memories whose label differs from their last log line's

    # -- applying events -------------------------------------------------------------------

    def apply(self, event: Mapping[str, Any]) -> None:
        """Fold one log event into the view; ValueError if the event is malformed."""
        if not isinstance(event, Mapping):
            raise ValueError("event is not an object")
        op = event.get("op")
        if op == "put":
            memory = event.get("memory")
            if not isinstance(memory, Mapping):
                raise ValueError("put without a memory object")
            self._put_logged(Memory.from_json(memory))
        elif op == "delete":
            self.delete(_text(event, "id"))
        elif op == "consent":
            on = event.get("on")
            if not isinstance(on, bool):
                raise ValueError("consent without on=true/false")
            self.set_consent(_text(event, "user"), on, _number(event, "at"))
        elif op == "seen":
            self.mark_seen(_text(event, "user"), _number(event, "at"))
        elif op == "profile":
            data = event.get("data")
            if data is not None and not isinstance(data, dict):
                raise ValueError("profile data is not an object")
            self.set_profile(_text(event, "user"), _text(event, "kind"), data)
        else:
            raise ValueError(f"unknown op {op!r}")

    def put(self, memory: Memory) -> None:
        """Add ``memory`` or replace the memory with the same id."""
        holder = self.by_label.get(memory.label)
        if memory.label < 0 or (holder is not None and holder != memory.id):
            raise ValueError(f"label {memory.label} is invalid or already used by another memory")
        old = self.memories.get(memory.id)
        if old is not None:
            if old.user_id != memory.user_id:
                raise ValueError("a memory cannot move to another user")
            self._unlink(old)
        self.memories[memory.id] = memory
        self.by_user.setdefault(memory.user_id, {})[memory.id] = memory
        self.labels_by_user.setdefault(memory.user_id, set()).add(memory.label)
        self.by_label[memory.label] = memory.id
        if memory.slot:
            self.by_slot[(memory.user_id, memory.slot)] = memory.id
        if memory.kind == "episode" and memory.channel is not None:
            self.episodes.setdefault((memory.user_id, memory.channel), set()).add(memory.id)
        if memory.label >= self.label_extent:
            for free in range(self.label_extent, memory.label):
                heapq.heappush(self._free_labels, free)
            self.label_extent = memory.label + 1

    def _put_logged(self, memory: Memory) -> None:
        """Fold in a memory read from the log, keeping labels dense.

        The vector index holds a row for every label up to the largest, so a damaged label
        (300000000) would allocate until memory runs out. A label beyond LABEL_ROOM plus twice
        the memory count is replaced by a free one: the memory is kept and the index re-embeds
        it under the new label. Replay is deterministic, so every open gives the same labels.
        """
        existing = self.memories.get(memory.id)
        if memory.label >= LABEL_ROOM + 2 * len(self.memories) and (existing is None or existing.label != memory.label):
            label = existing.label if existing is not None else self.allocate_label()
            log.warning("memory log: label %d is implausibly large; the memory gets label %d", memory.label, label)
            self._relabelled.add(memory.id)
            self.put(replace(memory, label=label))
            return
        holder = self.by_label.get(memory.label)
        if holder is not None and holder != memory.id and holder in self._relabelled:
            # The log gives this label to another memory later on: the relabelled one moves aside.
            self.put(replace(self.memories[holder], label=self.allocate_label()))
        self._relabelled.discard(memory.id)
        self.put(memory)

    def delete(self, memory_id: str) -> Memory | None:
        """Remove a memory; return it (None if it was not there)."""
        self._relabelled.discard(memory_id)
        memory = self.memories.pop(memory_id, None)
        if memory is not None:
            self._unlink(memory)
        return memory

    def _unlink(self, memory: Memory) -> None:
        user_memories = self.by_user.get(memory.user_id, {})
        user_memories.pop(memory.id, None)
        if not user_memories:
            self.by_user.pop(memory.user_id, None)
        labels = self.labels_by_user.get(memory.user_id)
        if labels is not None:
            labels.discard(memory.label)
            if not labels:
                del self.labels_by_user[memory.user_id]
        if self.by_label.get(memory.label) == memory.id:
            del self.by_label[memory.label]
            heapq.heappush(self._free_labels, memory.label)
        if memory.slot and self.by_slot.get((memory.user_id, memory.slot)) == memory.id:
            del self.by_slot[(memory.user_id, memory.slot)]
        episodes = self.episodes.get((memory.user_id, memory.channel or ""))
        if episodes is not None:
            episodes.discard(memory.id)
            if not episodes:
                del self.episodes[(memory.user_id, memory.channel or "")]

    def set_consent(self, user_id: str, on: bool, at: float) -> None:
        if on:
            self.consent.setdefault(user_id, at)
            self.mark_seen(user_id, at)  # opting in is an interaction
        else:
            self.consent.pop(user_id, None)

    def mark_seen(self, user_id: str, at: float) -> None:
        self.last_seen[user_id] = max(at, self.last_seen.get(user_id, at))

    def set_profile(self, user_id: str, kind: str, data: dict[str, Any] | None) -> None:
        profiles = self.profiles.setdefault(user_id, {})
        if data is None:
            profiles.pop(kind, None)
        else:
            profiles[kind] = data
        if not profiles:
            del self.profiles[user_id]

    # -- questions the store asks -----------------------------------------------------------

    def allocate_label(self) -> int:
        """The lowest free label (labels of deleted memories are reused, keeping the index dense)."""
        while self._free_labels:
            label = heapq.heappop(self._free_labels)
            if label not in self.by_label and label < self.label_extent:
                return label
        label = self.label_extent
        self.label_extent += 1
        return label

    def memory_at(self, label: int) -> Memory:
        return self.memories[self.by_label[label]]

    def user_memories(self, user_id: str) -> list[Memory]:
        return list(self.by_user.get(user_id, {}).values())

    def users(self) -> set[str]:
        """Every user the view holds anything about."""
        return set(self.by_user) | set(self.consent) | set(self.last_seen) | set(self.profiles)

    def forget(self, user_id: str) -> list[Memory]:
        """Drop everything about a user; return the memories that were removed."""
        removed = self.user_memories(user_id)
        for memory in removed:
            self.delete(memory.id)
        self.consent.pop(user_id, None)
        self.last_seen.pop(user_id, None)
        self.profiles.pop(user_id, None)
        return removed

    def events(self) -> Iterator[dict[str, Any]]:
        """The current view as the shortest log that rebuilds it (used for compaction)."""
        for user_id, at in self.consent.items():
            yield consent_event(user_id, True, at)
        for user_id, at in self.last_seen.items():
            yield seen_event(user_id, at)
        for user_id, profiles in self.profiles.items():
            for kind, data in profiles.items():
                yield profile_event(user_id, kind, data)
        for memory in self.memories.values():
            yield put_event(memory)

    def event_count(self) -> int:
        """How many lines :meth:`events` would write."""
        return (
            len(self.consent) + len(self.last_seen) + sum(len(p) for p in self.profiles.values()) + len(self.memories)
        )


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing or not a string")
    return value


def _number(event: Mapping[str, Any], key: str) -> float:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is missing or not a number")
    return float(value)
