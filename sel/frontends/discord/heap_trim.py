"""Giving memory SEL has freed back to the system while the bot runs (glibc's ``malloc_trim``).

glibc keeps what a thread frees inside that thread's malloc arena, for reuse, and returns it to the
system only from the top of the main heap. SEL's work runs in threads (llama.cpp, ONNX Runtime,
asyncio's worker threads) whose big short-lived buffers leave free holes behind; under
`sel bench soak` they grew the process by tens of megabytes that were free, not in use (see README,
"Soak"). ``malloc_trim(0)`` hands every free page of every arena back at once, so the bot calls it
every minute, in a thread. Where the C library has no ``malloc_trim`` (musl, macOS, Windows), this
does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

TRIM_EVERY_S = 60.0  # often enough to keep freed memory from piling up; each trim takes milliseconds

Trim = Callable[[int], int]


def malloc_trim_of(libc: Any) -> Trim | None:
    """``libc``'s ``malloc_trim``, or None when it has none (any C library but glibc)."""
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


@functools.cache
def process_malloc_trim() -> Trim | None:
    """This process's ``malloc_trim`` (looked up once), or None off glibc."""
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter itself runs on
    except OSError:  # Windows: no "whole process" library to open
        return None
    return malloc_trim_of(libc)


def trim_heap(trim: Trim | None) -> bool:
    """Return free heap pages to the system; True when ``trim`` released any, False otherwise or without it."""
    return trim is not None and trim(0) == 1


class HeapTrimmer:
    """Trims the heap every ``every_s`` seconds while the bot runs (started in setup_hook, stopped on close)."""

    def __init__(self, trim: Trim | None, every_s: float | None = None) -> None:
        self.trim = trim  # None: nothing to call, the trimmer never starts
        self.every_s = TRIM_EVERY_S if every_s is None else every_s
        self.trims = 0  # trims done so far (a count for tests and curious owners)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.trim is None:
            log.debug("no malloc_trim in this C library: freed memory stays with the allocator")
            return
        self._task = asyncio.create_task(self._trim_forever(), name="sel-heap-trim")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _trim_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            # In a thread: trimming walks every arena, which the loop should not wait for.
            await asyncio.to_thread(trim_heap, self.trim)
            self.trims += 1
