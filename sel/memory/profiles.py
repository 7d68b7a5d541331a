"""Per-user profiles (e.g. kind="style"): small JSON documents kept beside the memories, only with consent."""

from __future__ import annotations

from typing import Any

import orjson

from sel.memory.core import StoreCore
from sel.memory.state import profile_event

MAX_PROFILE_KIND_CHARS = 40


def get_profile(core: StoreCore, user_id: str, kind: str) -> dict[str, Any] | None:
    """A copy of the stored profile, or None if there is none or the user has not consented."""
    with core.lock:
        if user_id not in core.state.consent:
            return None
        data = core.state.profiles.get(user_id, {}).get(kind)
        return None if data is None else orjson.loads(orjson.dumps(data))


def put_profile(core: StoreCore, user_id: str, kind: str, data: dict[str, Any]) -> bool:
    """Store a profile (JSON-able dict); False and nothing stored without consent."""
    if not kind or len(kind) > MAX_PROFILE_KIND_CHARS:
        raise ValueError(f"profile kind must be 1-{MAX_PROFILE_KIND_CHARS} characters")
    copy = orjson.loads(orjson.dumps(data))  # raises TypeError for data that is not JSON
    with core.lock:
        core.check_open()
        if user_id not in core.state.consent:
            return False
        core.journal.append([profile_event(user_id, kind, copy)])
        core.state.set_profile(user_id, kind, copy)
        core.compact_if_due()  # style profiles are rewritten on every message
        return True
