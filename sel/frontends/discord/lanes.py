"""One reply at a time per channel; the people who write meanwhile wait in line, coalesced per author."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

import discord

from sel.domain import Decision, IncomingMessage

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A message SEL will answer, with the brain's decision on it."""

    message: discord.Message
    incoming: IncomingMessage
    decision: Decision
    prefix: str = ""  # e.g. what SEL heard in a voice message, shown above the reply


class Lanes:
    """One running reply per channel; waiting messages are coalesced per author.

    While SEL answers in a channel, each person's newest addressed message waits (their
    earlier ones are taken in without a reply: they are in the context of the newest).
    Different people are answered in the order they wrote. At most ``max_waiting`` people
    wait per channel; past that the longest-waiting message is taken in without a reply, so
    a flood never grows without bound. A waiting message that is ``stale`` by its turn (the
    conversation has moved past it) is taken in without a reply too.
    """

    def __init__(
        self,
        run: Callable[[Job], Coroutine[object, object, None]],
        superseded: Callable[[Job], Coroutine[object, object, None]],
        max_waiting: int = 5,
        stale: Callable[[Job], bool] = lambda job: False,
    ) -> None:
        self._run = run
        self._superseded = superseded
        self._stale = stale
        self.max_waiting = max_waiting
        self.running: dict[int, asyncio.Task[None]] = {}
        self.pending: dict[int, OrderedDict[str, Job]] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()

    def submit(self, channel_id: int, job: Job) -> None:
        if channel_id not in self.running:
            self._start(channel_id, job)
            return
        waiting = self.pending.setdefault(channel_id, OrderedDict())
        older = waiting.get(job.incoming.author_id)
        waiting[job.incoming.author_id] = job  # a person keeps their place in line
        if older is None and len(waiting) > self.max_waiting:
            _, older = waiting.popitem(last=False)
        if older is not None:
            self._take_in(older)

    def _take_in(self, job: Job) -> None:
        """Let SEL learn from a waiting message it will not answer."""
        # The loop keeps only weak references to tasks: hold this one until it is done.
        task = asyncio.get_running_loop().create_task(self._superseded(job))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _start(self, channel_id: int, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job), name=f"sel-reply-{channel_id}")
        self.running[channel_id] = task
        task.add_done_callback(lambda t: self._done(channel_id, t))

    def _done(self, channel_id: int, task: asyncio.Task[None]) -> None:
        self.running.pop(channel_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("reply in channel %s failed", channel_id, exc_info=task.exception())
        waiting = self.pending.get(channel_id)
        if not waiting or task.cancelled():
            self.pending.pop(channel_id, None)
            return
        job = self._next_fresh(waiting)
        if not waiting:
            del self.pending[channel_id]
        if job is not None:
            self._start(channel_id, job)

    def _next_fresh(self, waiting: OrderedDict[str, Job]) -> Job | None:
        """The longest-waiting message still worth answering; the stale ones before it are taken in.

        Age is checked again here, not only on arrival: on a slow machine a message can wait in
        line for minutes, and a late answer to a conversation that moved on is worse than none.
        """
        while waiting:
            _, job = waiting.popitem(last=False)
            if not self._stale(job):
                return job
            log.debug("message %s went stale while waiting: taken in without a reply", job.message.id)
            self._take_in(job)
        return None

    async def cancel_all(self) -> None:
        self.pending.clear()
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
