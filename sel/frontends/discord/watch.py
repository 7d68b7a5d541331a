"""Watching the running bot: the heartbeat file for `sel health`, and the sampled metrics.

Every few seconds, on the event loop (so a blocked loop stops the heartbeat and shows as stale),
the watch checks the gateway (ready, heartbeats acknowledged) and the engine (replies in flight
still receiving tokens), writes the heartbeat file in a thread, and samples the gauges: asyncio
tasks, replies running or waiting, memories stored. Discord's 429 answers are counted from
discord.py's own log line, the one place its HTTP client reports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from sel.frontends.discord.heap_trim import process_malloc_trim, trim_heap
from sel.health import (
    BEAT_SECONDS,
    STALL_SECONDS,
    Heartbeat,
    engine_problem,
    gateway_problem,
    remove_heartbeat,
    write_heartbeat,
)

if TYPE_CHECKING:
    from discord.ext import commands

    from sel.app import App
    from sel.frontends.discord.lanes import Lanes
    from sel.frontends.discord.progress import Progress
    from sel.metrics import Metrics

log = logging.getLogger(__name__)

MEMORY_EVERY = 6  # beats between memory counts and KV snapshot sizes (a count reads the store)
TRIM_EVERY = 6  # beats between heap trims (a minute; see sel.frontends.discord.heap_trim)


class RateLimitLog(logging.Handler):
    """Counts discord.py's "We are being rate limited" warnings (one per 429 it receives)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(logging.WARNING)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("We are being rate limited"):
            self.metrics.rate_limited()


class Watch:
    """The bot's heartbeat, metrics sampler and heap trimmer; :meth:`start` in setup_hook, :meth:`stop` on close."""

    def __init__(self, bot: commands.Bot, app: App, lanes: Lanes, progress: Progress) -> None:
        self.bot = bot
        self.app = app
        self.lanes = lanes
        self.progress = progress
        self.interval = BEAT_SECONDS
        self.stall_after = STALL_SECONDS
        self.beats = 0
        self.trim = process_malloc_trim()  # None off glibc: nothing to trim with
        self.trims = 0  # heap trims done so far
        self._task: asyncio.Task[None] | None = None
        self._rate_limits = RateLimitLog(app.metrics)

    def start(self) -> None:
        logging.getLogger("discord.http").addHandler(self._rate_limits)
        self._task = asyncio.create_task(self._beat_forever(), name="sel-watch")

    async def stop(self) -> None:
        """Stop beating and remove the heartbeat file: `sel health` then says SEL is not running."""
        logging.getLogger("discord.http").removeHandler(self._rate_limits)
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await asyncio.to_thread(remove_heartbeat, self.app.settings.data_dir)

    async def _beat_forever(self) -> None:
        await self.bot.wait_until_ready()  # until then, no heartbeat: "still starting"
        while True:
            try:
                await self.beat()
            except Exception:  # a full disk must not stop the bot; `sel health` sees the stale file
                log.exception("could not write the heartbeat")
            await asyncio.sleep(self.interval)

    async def beat(self) -> Heartbeat:
        """Check the gateway and the engine, write the heartbeat file and sample the gauges once."""
        beat = Heartbeat(
            at=time.time(),
            pid=os.getpid(),
            gateway_trouble=gateway_problem(
                ready=self.bot.is_ready(), closed=self.bot.is_closed(), **_acknowledgements(self.bot)
            ),
            engine_trouble=engine_problem(self.progress.stalled_for(), self.stall_after),
        )
        for problem in (beat.gateway_trouble, beat.engine_trouble):
            if problem:
                log.warning("unhealthy: %s", problem)
        await asyncio.to_thread(write_heartbeat, self.app.settings.data_dir, beat)
        if self.trim is not None and self.beats % TRIM_EVERY == 0:
            # In a thread: trimming walks every malloc arena, which the loop should not wait for.
            await asyncio.to_thread(trim_heap, self.trim)
            self.trims += 1
        await self._sample()
        return beat

    async def _sample(self) -> None:
        memories, kv_bytes = None, None
        if self.app.metrics.serving and self.beats % MEMORY_EVERY == 0:
            status = await self.app.status()
            memories, kv_bytes = status.memories, status.kv_snapshot_mb * 1e6
        self.beats += 1
        waiting = sum(len(people) for people in self.lanes.pending.values())
        self.app.metrics.sampled(
            tasks=len(asyncio.all_tasks()),
            queue_depth=len(self.lanes.running) + waiting,
            memories=memories,
            kv_snapshot_bytes=kv_bytes,
        )


def _acknowledgements(bot: commands.Bot) -> dict[str, Any]:
    """How long ago Discord last acknowledged a gateway heartbeat, and the interval it asked for.

    discord.py keeps these on its keep-alive thread without a public accessor, so they are read
    defensively: when a shard has none (connecting), the rule only looks at readiness. With shards,
    the oldest acknowledgement counts: one stuck shard leaves its servers without SEL.
    """
    sockets = [getattr(shard, "ws", None) for shard in getattr(bot, "_AutoShardedClient__shards", {}).values()]
    sockets = sockets or [getattr(bot, "ws", None)]
    ages, interval = [], None
    for ws in sockets:
        keep_alive = getattr(ws, "_keep_alive", None)
        last_ack = getattr(keep_alive, "_last_ack", None)
        if isinstance(last_ack, float):
            ages.append(time.perf_counter() - last_ack)  # discord.py stamps acks with perf_counter
            interval = getattr(keep_alive, "interval", None)
    return {"ack_age": max(ages) if ages else None, "interval": interval}
