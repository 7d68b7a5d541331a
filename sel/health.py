"""Is SEL alive and able to answer? The heartbeat file the running bot writes, and how `sel health` judges it.

The bot writes ``heartbeat.json`` in the data folder every :data:`BEAT_SECONDS` from its event loop,
with what it found wrong with the Discord gateway and the engine (nothing, when healthy). `sel health`
(Docker's HEALTHCHECK) reads it: an old file means the loop itself is hung or SEL has stopped. The
rules are pure functions that take the time, so tests need no clock.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sel.atomic_files import write_atomic

HEARTBEAT_FILE = "heartbeat.json"
BEAT_SECONDS = 10.0
STALE_AFTER = 60.0  # six missed beats: the event loop is blocked, or SEL is gone
STALL_SECONDS = 300.0  # replies in flight without a token for this long: the engine is stuck
MISSED_ACKS = 3  # gateway heartbeats unacknowledged before the connection counts as stuck


@dataclass(frozen=True)
class Heartbeat:
    """What the running bot found, at wall-clock time ``at`` (None: that part is fine)."""

    at: float
    pid: int
    gateway_trouble: str | None = None
    engine_trouble: str | None = None


def gateway_problem(*, ready: bool, closed: bool, ack_age: float | None, interval: float | None) -> str | None:
    """What is wrong with the gateway connection, or None.

    ``ack_age`` is how long ago Discord last acknowledged a heartbeat, ``interval`` the heartbeat
    interval Discord asked for (both None while the connection is being made).
    """
    if closed:
        return "the Discord connection is closed"
    if not ready:
        return "not connected to Discord yet"
    if ack_age is not None and interval is not None and ack_age > MISSED_ACKS * interval:
        return f"Discord has not acknowledged a gateway heartbeat for {ack_age:.0f} s: the connection is stuck"
    return None


def engine_problem(stalled_for: float, limit: float = STALL_SECONDS) -> str | None:
    """``stalled_for``: seconds that replies have been in flight without the engine producing a token."""
    if stalled_for > limit:
        return f"replies have waited {stalled_for:.0f} s for a token: the engine is stuck"
    return None


def judge(beat: Heartbeat | None, now: float, stale_after: float = STALE_AFTER) -> str | None:
    """Why SEL is unhealthy, or None when it is healthy."""
    if beat is None:
        return "no heartbeat: SEL's Discord bot is not running (or is still starting)"
    age = now - beat.at
    if age > stale_after:
        return f"the last heartbeat is {age:.0f} s old: SEL is hung or has stopped"
    return beat.gateway_trouble or beat.engine_trouble


def heartbeat_path(data_dir: Path) -> Path:
    return data_dir / HEARTBEAT_FILE


def write_heartbeat(data_dir: Path, beat: Heartbeat) -> None:
    """Replace the heartbeat file atomically (a reader never sees half of it). Blocking: run it in a thread."""
    write_atomic(heartbeat_path(data_dir), json.dumps(asdict(beat)).encode("utf-8"))


def read_heartbeat(data_dir: Path) -> Heartbeat | None:
    """The last heartbeat, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads(heartbeat_path(data_dir).read_text(encoding="utf-8"))
        return Heartbeat(float(data["at"]), int(data["pid"]), data.get("gateway_trouble"), data.get("engine_trouble"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_heartbeat(data_dir: Path) -> None:
    """On a clean shutdown: `sel health` then says SEL is not running instead of waiting for staleness."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(heartbeat_path(data_dir))
