"""The in-process engine: GGUF models run by llama.cpp on one worker thread.

:class:`LocalEngine` puts the parts together: a :class:`~sel.llm.worker.Worker` (one thread,
first come first served, cancellation across threads), a :class:`~sel.llm.residency.Residency`
(loading, swapping, KV snapshots per conversation) and a
:class:`~sel.llm.generation.ReplyGenerator` (the generation loops). Replies from local slots
are therefore sequential; closing a reply's stream cancels it within a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sel.config_paths import check_gguf
from sel.config_slices import LlmSettings
from sel.domain import GenerationStats, PromptPlan, Thought
from sel.errors import ModelError
from sel.llm.generation import ReplyGenerator, Request
from sel.llm.residency import SLOT_VARIABLES, Residency
from sel.llm.worker import Worker

T = TypeVar("T")


class LocalEngine:
    """Streams replies from the GGUF models named by ``slots``."""

    def __init__(self, settings: LlmSettings, slots: Mapping[str, Path]) -> None:
        self.settings = settings
        self.slots = dict(slots)
        self._residency = Residency(settings, self.slots)
        self._generator = ReplyGenerator(settings, self._residency)
        self._worker = Worker()

    @property
    def last_stats(self) -> GenerationStats | None:
        return self._generator.last_stats

    @property
    def swaps(self) -> int:
        return self._residency.swaps

    def check_models(self) -> None:
        """Raise ModelError naming the variable unless every slot's file is a readable GGUF."""
        for slot, path in self.slots.items():
            check_gguf(SLOT_VARIABLES.get(slot, slot), path)

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str | Thought, None]:
        """Yield the reply's text chunks (and Thought items) as they are generated. Closing the iterator cancels."""
        if slot not in self.slots:
            raise ModelError(f"no model is configured for the {slot!r} slot")
        request = Request(slot, plan, conversation, max_tokens or self.settings.max_new_tokens)
        items = self._worker.stream(functools.partial(self._generator.run, request=request), label=slot)
        async with contextlib.aclosing(items):  # closing this stream cancels the generation now, not at GC
            async for item in items:
                assert isinstance(item, str | Thought)
                yield item

    async def complete(self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None) -> str:
        """The whole reply as one string (reasoning left out)."""
        stream = self.stream(slot, plan, conversation=conversation, max_tokens=max_tokens)
        return "".join([item async for item in stream if isinstance(item, str)])

    async def warm_up(self, slot: str = "general") -> None:
        """Load ``slot``'s model and generate one token, so the first reply pays for neither."""
        await asyncio.to_thread(self.run_blocking, _one_token, slot)

    def run_blocking(self, fn: Callable[[Any], T], slot: str | None = "general", *, park: bool = False) -> T:
        """Run ``fn(llm)`` on the worker thread with ``slot``'s model loaded; blocks the caller.

        ``slot=None`` uses whichever model is resident (no swap), else the general one.
        ``park=True`` first snapshots the conversation held in the KV cache, so a side job
        (fact extraction) does not cost that conversation its warm prefix.
        """

        def task() -> T:
            resident = self._residency.resident_for(slot)
            if park:
                self._residency.park(resident)
            return fn(resident.llm)

        return self._worker.call(task)

    def status(self) -> dict[str, Any]:
        """Slots, resident models, swaps and KV snapshots (the composite engine adds the last reply)."""
        residency = self._residency
        return {
            "slots": {slot: str(path) for slot, path in self.slots.items()},
            "loaded": [str(path) for path in residency.loaded],
            "single_backend": self.settings.single_backend,
            "gpu_layers": residency.gpu_layers(),
            "swaps": residency.swaps,
            "kv_snapshots": len(residency.snapshots),
            "kv_snapshot_mb": round(residency.snapshots.used / 1e6, 1),
        }

    def close(self) -> None:
        """Stop the worker (after the work queued before) and free every model."""
        if self._worker.closed:
            return
        self._worker.close()
        self._residency.unload_all()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


def _one_token(llm: Any) -> None:
    # One greedy token runs a full forward pass: the weights are paged in and llama.cpp's compute
    # buffers exist. Greedy, so the warm-up draws nothing from the sampler's random state.
    llm.create_completion(" ", max_tokens=1, temperature=0.0)
