"""The periodic task that deletes expired memories and saves the index snapshot."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sel.memory.store import MemoryStore

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 300.0


async def run_pruner(store: MemoryStore, interval: float = PRUNE_INTERVAL_SECONDS) -> None:
    """Every ``interval`` seconds, prune expired memories and checkpoint, in a worker thread; runs until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await asyncio.to_thread(store.prune_expired)
            await asyncio.to_thread(store.checkpoint)
        except Exception:  # a failed round must not end the task; the next round retries
            log.exception("memory pruning failed; retrying in %.0f s", interval)
        else:
            log.debug("memory pruner removed %d expired memories", removed)
