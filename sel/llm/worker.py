"""One worker thread that runs model work first come, first served, and streams results back.

A llama.cpp context is not thread-safe, so everything that touches a model runs on this
thread, in arrival order. A streaming job hands its items to the asyncio side with
``call_soon_threadsafe``; closing the async iterator sets the job's ``cancelled`` event,
which the generation loop checks between tokens, so cancelling stops it within a token.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from sel.errors import SelError

log = logging.getLogger(__name__)

T = TypeVar("T")
_END = object()


@dataclass
class StreamJob:
    """A generation's link between the worker thread and the coroutine reading it."""

    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    produced: int = 0  # tokens generated so far
    produced_at_cancel: int = 0

    def cancel(self) -> None:
        if not self.cancelled.is_set():
            self.produced_at_cancel = self.produced
            self.cancelled.set()

    def emit(self, item: object) -> None:
        """Hand ``item`` to the reading coroutine (from the worker thread)."""
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


@dataclass
class _Streaming:
    job: StreamJob
    work: Callable[[StreamJob], None]
    label: str


class Worker:
    """A single thread taking model work in order: streamed generations and blocking calls."""

    def __init__(self, name: str = "sel-llm") -> None:
        self._name = name
        self._jobs: queue.Queue[_Streaming | Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.closed = False

    async def stream(self, work: Callable[[StreamJob], None], *, label: str = "") -> AsyncGenerator[object, None]:
        """Run ``work(job)`` on the thread and yield what it emits; closing the iterator cancels it.

        An exception ``work`` raises is re-raised here, after the items emitted before it.
        """
        job = StreamJob(asyncio.get_running_loop())
        self._submit(_Streaming(job, work, label))
        try:
            while True:
                item = await job.out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancel()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the thread after the work queued before it; blocks the caller."""
        result: queue.Queue[tuple[bool, object]] = queue.Queue()

        def task() -> None:
            try:
                result.put((True, fn()))
            except BaseException as err:  # handed to the caller, which re-raises it
                result.put((False, err))

        self._submit(task)
        ok, value = result.get()
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return cast(T, value)

    def close(self) -> None:
        """Finish the queued work, then stop the thread."""
        if self.closed:
            return
        self.closed = True
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=60)

    def _submit(self, item: _Streaming | Callable[[], None]) -> None:
        if self.closed:
            raise RuntimeError("the engine is closed")
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._jobs.put(item)

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            if isinstance(item, _Streaming):
                _run_streaming(item)
            else:
                item()


def _run_streaming(item: _Streaming) -> None:
    job = item.job
    if not job.cancelled.is_set():  # a reader that gave up while queued costs nothing
        try:
            item.work(job)
        except SelError as err:
            job.emit(err)
        except Exception as err:
            log.exception("generation failed (%s)", item.label)
            job.emit(err)
    job.emit(_END)
