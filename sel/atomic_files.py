"""Crash-safe file writes: a file is either the old version or the new one, never half of each.

Every write goes to a temp file beside the target, is fsync'd, then renamed over the
target with ``os.replace`` (atomic on POSIX); the directory is fsync'd so the rename
itself survives a power cut. Temp files left by a killed process are removed at start-up.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"


def temp_path_for(target: Path) -> Path:
    """A fresh temp path in the target's directory (same file system, so the rename is atomic)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def fsync_file(path: Path) -> None:
    """Flush a file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a rename or a new file) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically and durably."""

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            fh.write(data)

    write_atomic_with(target, write)


def write_atomic_with(target: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` write a temp file (e.g. a library's own save function), then rename it over ``target``."""
    tmp = temp_path_for(target)
    try:
        writer(tmp)
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def remove_stale_temps(directory: Path) -> int:
    """Delete temp files a killed process left behind (they may hold user data); return how many."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.glob(f".*{TEMP_SUFFIX}"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d unfinished temp file(s) in %s", removed, directory)
    return removed
