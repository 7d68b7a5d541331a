"""Who has opted in to being heard in voice channels (`/sel listen on|off`), kept across restarts.

Listening is its own opt-in, apart from memory consent: someone may want to talk with SEL
without it remembering anything, or be remembered from text but never heard. The list is a small
JSON file in SEL_DATA_DIR, replaced atomically; reads come from memory, so the voice receive
thread can ask for every packet at no cost.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from sel.atomic_files import write_atomic

log = logging.getLogger(__name__)

FILE_NAME = "voice_listening.json"


class ListeningConsent:
    """The people SEL may listen to in voice channels. Writes block (fsync): call them off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ids = frozenset(_read(path))

    @classmethod
    def in_folder(cls, data_dir: Path) -> ListeningConsent:
        return cls(data_dir / FILE_NAME)

    def allows(self, user_id: int) -> bool:
        """Whether ``user_id`` opted in to being heard."""
        return user_id in self._ids

    def set(self, user_id: int, on: bool) -> None:
        """Record an opt-in or a withdrawal (durably, before returning)."""
        with self._lock:
            ids = self._ids | {user_id} if on else self._ids - {user_id}
            if ids != self._ids:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps({"listen_to": sorted(ids)}).encode())
                self._ids = frozenset(ids)


def _read(path: Path) -> list[int]:
    """The stored ids; a missing file is nobody, and a damaged one is nobody too (with a warning), never a crash."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [int(i) for i in data["listen_to"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s cannot be read (%s); nobody is listened to until they opt in again", path, err)
        return []
