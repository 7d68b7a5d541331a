"""The engine the app uses: each slot routed to the in-process llama.cpp engine or a model server.

A slot ("general", "coder", "vision") with a server URL (SEL_*_URL) is served by
:class:`~sel.llm.http_engine.HttpEngine`; every other slot is a GGUF file run in-process by
:class:`~sel.llm.local_engine.LocalEngine`. Both can be mixed: a local general model with a
remote coder, for example.

Up to SEL_MAX_PARALLEL replies are generated at once across conversations. Remote slots then
stream in parallel (a server that batches, like llama-server ``--parallel N`` or vLLM, serves
them together); local slots still take turns on the one worker thread, first come first served,
because batching several conversations in one llama.cpp context is not implemented (see the
README's measurements). A reply waiting for the worker holds its place in the limit too.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sel.config import LlmSettings
from sel.domain import GenerationStats, PromptPlan, Thought
from sel.errors import ModelError
from sel.llm.local_engine import LocalEngine
from sel.llm.protocol import ChatEngine
from sel.llm.residency import gpu_offload_supported, route_llama_logs

if TYPE_CHECKING:
    from sel.llm.http_engine import HttpEngine

# `sel doctor` asks the engine about llama.cpp itself.
__all__ = ["Engine", "ParallelLimit", "gpu_offload_supported", "route_llama_logs"]

T = TypeVar("T")


class ParallelLimit:
    """At most ``limit`` generations at once, first come first served.

    One semaphore per event loop: an engine may outlive a loop (tests, `sel bench`), and an
    asyncio semaphore belongs to the loop it first waited on.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0  # generations holding a place now
        self.waiting = 0  # generations waiting for a place
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Wait for a free place and hold it for the block."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        self.waiting += 1
        try:
            await semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            semaphore.release()


class Engine:
    """Streams replies for every slot, each from its local GGUF or its server, up to SEL_MAX_PARALLEL at once."""

    def __init__(self, settings: LlmSettings, slots: Mapping[str, Path] | None = None) -> None:
        self.settings = settings
        remote = settings.remote_slots()
        local = {slot: path for slot, path in (slots or local_slot_paths(settings)).items() if slot not in remote}
        self.local = LocalEngine(settings, local) if local else None
        self.remote: HttpEngine | None = None
        if remote:
            from sel.llm.http_engine import HttpEngine

            self.remote = HttpEngine(remote, settings)
        self._routes: dict[str, ChatEngine] = {}
        if self.local is not None:
            self._routes.update(dict.fromkeys(self.local.slots, self.local))
        if self.remote is not None:
            self._routes.update(dict.fromkeys(remote, self.remote))
        self.limit = ParallelLimit(settings.max_parallel)
        self._last: ChatEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # where replies stream, for complete_from_thread

    @property
    def last_stats(self) -> GenerationStats | None:
        """The figures of the reply that started or wrote most recently, or None before the first."""
        return None if self._last is None else self._last.last_stats

    @property
    def swaps(self) -> int:
        """How often a local model was closed to load another (single-backend mode)."""
        return 0 if self.local is None else self.local.swaps

    def check_models(self) -> None:
        """Raise ModelError unless every local slot's file is a readable GGUF (servers are checked at warm-up)."""
        if self.local is not None:
            self.local.check_models()

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str | Thought, None]:
        """Yield the reply's text chunks and Thought items as they come. Closing the iterator cancels."""
        engine = self._route(slot)
        self._loop = asyncio.get_running_loop()
        async with self.limit.place():
            self._last = engine
            items = engine.stream(slot, plan, conversation=conversation, max_tokens=max_tokens)
            async with contextlib.aclosing(items):  # closing this stream closes the engine's at once
                async for item in items:
                    self._last = engine  # the engine that wrote last has the figures `status` shows
                    yield item

    async def complete(self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None) -> str:
        """The whole reply's text, reasoning left out."""
        stream = self.stream(slot, plan, conversation=conversation, max_tokens=max_tokens)
        return "".join([item async for item in stream if isinstance(item, str)])

    def complete_from_thread(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> str:
        """:meth:`complete` for a thread outside the event loop (the memory store's fact extraction).

        It runs on the loop the replies stream on, so a server connection is shared, not reopened;
        before the first reply it runs on a loop of its own.
        """
        loop = self._loop
        if loop is not None and loop is _running_loop():
            raise RuntimeError("complete_from_thread was called on the event loop; await complete() instead")
        reply = self.complete(slot, plan, conversation=conversation, max_tokens=max_tokens)
        if loop is None or not loop.is_running():
            return asyncio.run(reply)
        return asyncio.run_coroutine_threadsafe(reply, loop).result()

    async def warm_up(self, slot: str = "general") -> None:
        """Get ``slot`` ready: a local model loads and generates one token; a server is asked for the model."""
        self._loop = asyncio.get_running_loop()
        await self._route(slot).warm_up(slot)

    def is_local(self, slot: str | None) -> bool:
        """Whether ``slot`` runs in-process (``None``: whichever local model is loaded)."""
        return self.local is not None and (slot is None or slot in self.local.slots)

    def run_blocking(self, fn: Callable[[Any], T], slot: str | None = "general", *, park: bool = False) -> T:
        """Run ``fn(llm)`` on the local worker thread with ``slot``'s llama.cpp model (see LocalEngine)."""
        if not self.is_local(slot):
            raise ModelError(f"the {slot} slot is served by a model server; this needs a local GGUF model")
        assert self.local is not None
        return self.local.run_blocking(fn, slot, park=park)

    def status(self) -> dict[str, Any]:
        """Per slot its model file or server model; what is loaded; swaps; the limit; the last reply's figures."""
        local: dict[str, Any] = self.local.status() if self.local is not None else _no_local()
        remote = self.settings.remote_slots()
        return {
            **local,
            # A server's model is named, not a file: `status` shows the name where a file name would be.
            "slots": {**local["slots"], **{slot: r.model for slot, r in remote.items()}},
            "servers": {slot: {"url": r.base_url, "model": r.model} for slot, r in remote.items()},
            "max_parallel": self.limit.limit,
            "generating": self.limit.running,
            "waiting": self.limit.waiting,
            "last": _stats_summary(self.last_stats),
        }

    def close(self) -> None:
        """Stop the worker, free the models and close the server connections."""
        for engine in self._engines():
            engine.close()

    async def aclose(self) -> None:
        for engine in self._engines():
            await engine.aclose()

    def _route(self, slot: str) -> ChatEngine:
        engine = self._routes.get(slot)
        if engine is None:
            raise ModelError(f"no model is configured for the {slot!r} slot")
        return engine

    def _engines(self) -> list[ChatEngine]:
        return [engine for engine in (self.local, self.remote) if engine is not None]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def local_slot_paths(settings: LlmSettings) -> dict[str, Path]:
    """Every slot's configured GGUF path (the composite drops the ones served remotely)."""
    slots = {"general": settings.general_model, "coder": settings.coder_model}
    if settings.vision_model is not None:
        slots["vision"] = settings.vision_model
    return slots


def _no_local() -> dict[str, Any]:
    return {
        "slots": {},
        "loaded": [],
        "single_backend": False,
        "gpu_layers": 0,
        "swaps": 0,
        "kv_snapshots": 0,
        "kv_snapshot_mb": 0.0,
    }


def _stats_summary(stats: GenerationStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        "slot": stats.slot,
        "model": Path(stats.model_path).name,
        "tokens_per_second": round(stats.tokens_per_second, 1),
        "time_to_first_token": round(stats.time_to_first_token, 3),
        "prompt_tokens": stats.prompt_tokens,
        "prefilled_tokens": stats.prefilled_tokens,
        "completion_tokens": stats.completion_tokens,
    }
