"""The record log: an append-only file of JSON lines, the source of truth for memory.

Appends are fsync'd before an operation is acknowledged, so a process killed at any
moment loses at most the line being written. An append the disk refuses (full, read-only)
is cut back off the file, so the next append after space returns starts on a clean line.
Compaction rewrites the whole log atomically (temp file + fsync + rename), so older lines
are never damaged. A line that
cannot be read is moved, byte for byte, to a quarantine file instead of being dropped.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sel.atomic_files import fsync_dir, write_atomic, write_atomic_with
from sel.errors import StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JournalLines:
    """What is on disk: complete lines with their 1-based numbers, and a torn last line if any."""

    lines: list[tuple[int, bytes]]
    torn_tail: bytes | None


class Journal:
    """An append-only JSON-lines log with a quarantine file for damaged lines."""

    def __init__(self, path: Path, quarantine_path: Path) -> None:
        self.path = path
        self.quarantine_path = quarantine_path
        self.line_count = 0
        self._fd: int | None = None  # raw O_APPEND descriptor: no library buffer can replay a refused write

    def read(self) -> JournalLines:
        """Every complete line; a last line without its newline was cut short by a crash."""
        if not self.path.exists():
            return JournalLines([], None)
        data = self.path.read_bytes()
        pieces = data.split(b"\n")
        tail = pieces.pop()  # b"" when the file ends with a newline
        lines = [(number, line) for number, line in enumerate(pieces, start=1) if line.strip()]
        self.line_count = len(lines)
        return JournalLines(lines, tail if tail.strip() else None)

    def write(self, events: Iterable[dict[str, Any]]) -> None:
        """Hand events to the OS (survives a killed process, not yet a power cut: call :meth:`sync`)."""
        payload = b"".join(orjson.dumps(event) + b"\n" for event in events)
        if not payload:
            return
        fd = self._append_fd()
        end = os.fstat(fd).st_size
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as err:
            _cut_back(fd, end)
            raise storage_error(self.path, err) from None
        self.line_count += payload.count(b"\n")

    def sync(self) -> None:
        """Make everything written so far durable."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as err:
                raise storage_error(self.path, err) from None

    def append(self, events: Iterable[dict[str, Any]]) -> None:
        """Write and fsync: once this returns, the events survive a crash."""
        self.write(events)
        self.sync()

    def rewrite(self, events: Iterable[dict[str, Any]]) -> None:
        """Replace the whole log atomically with ``events`` (compaction, forgetting a user)."""
        count = 0

        def write(tmp: Path) -> None:
            nonlocal count
            with tmp.open("wb") as fh:
                for chunk in _chunks(events):
                    fh.write(chunk)
                    count += chunk.count(b"\n")

        self.close()
        write_atomic_with(self.path, write)
        self.line_count = count

    def quarantine(self, lines: list[bytes]) -> None:
        """Keep damaged lines, unchanged, in the quarantine file (fsync'd)."""
        if not lines:
            return
        with self.quarantine_path.open("ab") as fh:
            fh.write(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())

    def quarantined_lines(self) -> list[bytes]:
        """The lines kept in quarantine."""
        if not self.quarantine_path.exists():
            return []
        return [line for line in self.quarantine_path.read_bytes().split(b"\n") if line]

    def scrub_quarantine(self, *needles: bytes) -> int:
        """Remove quarantined lines containing any of ``needles`` (a forgotten user's id, a deleted
        memory's id or text); return how many."""
        kept = self.quarantined_lines()
        wanted = [needle for needle in needles if needle]
        remaining = [line for line in kept if not any(needle in line for needle in wanted)]
        removed = len(kept) - len(remaining)
        if removed:
            write_atomic(self.quarantine_path, b"".join(line + b"\n" for line in remaining))
        return removed

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append_fd(self) -> int:
        if self._fd is None:
            created = not self.path.exists()
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
                if created:
                    fsync_dir(self.path.parent)  # the new file's name must survive a power cut too
            except OSError as err:
                raise storage_error(self.path, err) from None
        return self._fd


def _cut_back(fd: int, size: int) -> None:
    """Remove the part of a refused append that did reach the file, so no torn line is left for later
    appends to run into (a full disk always allows shrinking a file)."""
    try:
        os.ftruncate(fd, size)
    except OSError as err:  # e.g. the folder went read-only: the next start quarantines the torn line
        log.warning("could not cut a refused append off the memory log: %s", err)


def storage_error(path: Path, err: OSError) -> StorageError:
    """The one line an owner reads when the data folder refuses a write."""
    if err.errno == errno.ENOSPC or err.errno == errno.EDQUOT:
        fix = "the disk is full; free some space and SEL will store memories again"
    elif err.errno == errno.EROFS or err.errno in (errno.EACCES, errno.EPERM):
        fix = "the folder is read-only or not writable by SEL; make SEL_DATA_DIR writable again"
    else:
        fix = f"{err.strerror or err}; check the disk"
    return StorageError(f"cannot write memories to {path}: {fix} (nothing already stored was changed)")


def _chunks(events: Iterable[dict[str, Any]], size: int = 1 << 20) -> Iterator[bytes]:
    buffer: list[bytes] = []
    length = 0
    for event in events:
        line = orjson.dumps(event) + b"\n"
        buffer.append(line)
        length += len(line)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield b"".join(buffer)
