"""Hormone state on disk (`<data_dir>/hormones.json`), so SEL's mood survives a restart.

Writes are atomic (temp file, fsync, os.replace). A file that cannot be read back is moved
aside as `hormones.json.corrupt-<UTC timestamp>` (with `-1`, `-2` … added if that name is
taken, so no bad file is ever overwritten), a warning is logged, and SEL starts from the
defaults. The calls block on disk: from asyncio, run :meth:`HormoneStore.save` in a thread.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from sel.atomic_files import write_atomic
from sel.brain.hormones import HORMONES, HormoneState

log = logging.getLogger(__name__)

FILE_NAME = "hormones.json"
FORMAT_VERSION = 1


class HormoneStore:
    """Loads and saves one :class:`HormoneState` in ``data_dir``."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self.clock = clock  # only names the files set aside

    def load(self) -> HormoneState | None:
        """The saved state, or None if there is none (or it was corrupt and has been moved aside)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode(raw)
        except ValueError as err:
            aside = self._set_aside()
            log.warning("hormone state %s unreadable (%s); kept it as %s, using defaults", self.path, err, aside)
            return None

    def save(self, state: HormoneState) -> None:
        """Write ``state`` atomically; a crash leaves either the old file or the new one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(
            {"version": FORMAT_VERSION, "updated_at": state.updated_at, "levels": dict(state.levels)}, indent=1
        ).encode("utf-8")
        write_atomic(self.path, data)

    def _set_aside(self) -> Path:
        """Move the unreadable file to a new name and return it."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        base = f"{self.path.name}.corrupt-{stamp}"
        aside = self.path.with_name(base)
        taken = 0
        while True:
            try:
                # Claim the name first: O_EXCL fails if it exists, even if another process just made it.
                os.close(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
                break
            except FileExistsError:
                taken += 1
                aside = self.path.with_name(f"{base}-{taken}")
        try:
            os.replace(self.path, aside)
        except OSError:
            aside.unlink(missing_ok=True)  # an empty claim left behind would pass for a set-aside file
            raise
        return aside


def decode(raw: bytes) -> HormoneState:
    """Parse a saved state; ValueError (naming the problem) if anything is missing or out of range."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"not JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise ValueError("unknown format version")
    levels = doc.get("levels")
    updated_at = doc.get("updated_at")
    if not isinstance(levels, dict) or not isinstance(updated_at, int | float):
        raise ValueError("levels or updated_at missing")
    if not math.isfinite(updated_at):  # JSON's Infinity/NaN parse, but no elapsed time can be taken from them
        raise ValueError("updated_at is not a finite time")
    out = {}
    for name in HORMONES:
        value = levels.get(name)
        if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} missing or outside [0, 1]")
        out[name] = float(value)
    return HormoneState(out, float(updated_at))
