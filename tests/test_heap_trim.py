"""SEL gives memory its threads have freed back to the system while the bot runs (glibc's malloc_trim),
and does nothing where the C library has no malloc_trim."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from sel.frontends.discord import watch
from sel.frontends.discord.heap_trim import malloc_trim_of, process_malloc_trim, trim_heap
from tests.standin.server import DiscordStandin

glibc_only = pytest.mark.skipif(process_malloc_trim() is None, reason="this C library has no malloc_trim (not glibc)")


def rss_anon_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def fragment_a_thread_arena(survivors: list[bytes]) -> None:
    """What a worker thread's big short-lived buffers leave behind: ~80 MB freed in its arena, with a
    survivor every 256 KB so that the free holes cannot shrink the heap from its top."""
    blocks = [bytes(4000) for _ in range(20_000)]  # over 512 bytes each: malloc's, not Python's small-object pool
    survivors.extend(blocks[::64])
    del blocks


@glibc_only
def test_trimming_hands_a_threads_freed_memory_back_to_the_system() -> None:
    survivors: list[bytes] = []
    worker = threading.Thread(target=fragment_a_thread_arena, args=(survivors,))
    worker.start()
    worker.join()
    before = rss_anon_mb()
    assert trim_heap(process_malloc_trim()), "malloc_trim found nothing to release after 80 MB were freed"
    after = rss_anon_mb()
    assert before - after >= 40, f"resident anonymous memory {before} MB -> {after} MB: the freed 80 MB stayed"
    survivors.clear()  # only now: they had to outlive the trim


def test_a_c_library_without_malloc_trim_means_no_trimming() -> None:
    class Musl:  # a C library with malloc and free but no malloc_trim
        pass

    assert malloc_trim_of(Musl()) is None
    assert trim_heap(None) is False


async def test_a_bot_without_malloc_trim_never_trims(sel_env: Any) -> None:
    bot = await sel_env()
    bot.watch.trim = None  # as on musl or macOS
    bot.watch.beats = 0  # a beat that would trim
    await bot.watch.beat()
    assert bot.watch.trims == 0, "no malloc_trim, yet the watch counted a trim"


@glibc_only
async def test_the_running_bot_trims_its_heap_regularly(
    sel_env: Any, standin: DiscordStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "BEAT_SECONDS", 0.05)
    monkeypatch.setattr(watch, "TRIM_EVERY", 1)
    bot = await sel_env()
    await standin.wait_for(lambda: bot.watch.trims >= 2, 20, what="two heap trims by the running bot")
    await bot.close()
    done = bot.watch.trims
    await asyncio.sleep(0.3)
    assert bot.watch.trims == done, "closing the bot must stop the trimming"
    assert done >= 2
