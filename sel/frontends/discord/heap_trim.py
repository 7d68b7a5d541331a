"""Giving memory SEL has freed back to the system while the bot runs (glibc's ``malloc_trim``).

glibc keeps what a thread frees inside that thread's malloc arena, for reuse, and returns it to the
system only from the top of the main heap. SEL's work runs in threads (llama.cpp, ONNX Runtime,
asyncio's worker threads) whose big short-lived buffers leave free holes behind; under
`sel bench soak` they grew the process by tens of megabytes that were free, not in use (see README,
"Soak"). ``malloc_trim(0)`` hands every free page of every arena back at once, so the bot's watch
(sel.frontends.discord.watch) calls it every minute, in a thread. Where the C library has no
``malloc_trim`` (musl, macOS, Windows), nothing is trimmed.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

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
