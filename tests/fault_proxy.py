"""A loopback HTTP proxy in front of a real model server, for what a healthy server will not do on cue.

It relays each request to the server unchanged (one request per connection) and records what it saw:
when each request arrived, its path and headers, and whether the client hung up while the answer was
still streaming. On request it answers the next request itself instead (a 503 with Retry-After, a
dropped connection), holds a streamed answer after its first events, or cuts the connection there,
as a server that dies mid-answer would.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SeenRequest:
    at: float  # time.monotonic() when the request had fully arrived
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class FaultProxy:
    upstream_port: int
    requests: list[SeenRequest] = field(default_factory=list)
    client_hung_up: asyncio.Event = field(default_factory=asyncio.Event)  # while the proxy held an answer open
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    _faults: list[tuple[str, bytes | None]] = field(default_factory=list)  # (path suffix, raw answer or None = drop)
    _hold_after: int | None = None
    _go: asyncio.Event = field(default_factory=asyncio.Event)
    _cut = False
    _server: asyncio.base_events.Server | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._go.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def answer_next(self, path_suffix: str, status: int, headers: dict[str, str] | None = None, body: str = "") -> None:
        """The next request whose path ends with ``path_suffix`` gets this answer from the proxy itself."""
        lines = [f"HTTP/1.1 {status} Fault", "Connection: close", f"Content-Length: {len(body.encode())}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._faults.append((path_suffix, ("\r\n".join(lines) + "\r\n\r\n" + body).encode()))

    def drop_next(self, path_suffix: str) -> None:
        """The next such request's connection is closed without an answer."""
        self._faults.append((path_suffix, None))

    def hold_after(self, events: int) -> None:
        """Streamed answers pause after ``events`` server-sent events, until release() or cut()."""
        self._hold_after = events

    def stop_holding(self) -> None:
        self._hold_after, self._cut = None, False
        self._go = asyncio.Event()
        self.holding.clear()

    def release(self) -> None:
        self._go.set()

    def cut(self) -> None:
        """Drop the held connection without the rest of the answer."""
        self._cut = True
        self._go.set()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def seen(self, path_suffix: str) -> list[SeenRequest]:
        """The requests whose path ends with ``path_suffix``, in the order they arrived."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (asyncio.CancelledError, ConnectionError):  # the test is over, or a side hung up
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head, body = await _read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        method, path = head.split(b" ", 2)[:2]
        headers = _headers(head)
        self.requests.append(SeenRequest(time.monotonic(), method.decode(), path.decode(), headers, body))
        fault = next((f for f in self._faults if path.decode().endswith(f[0])), None)
        if fault is not None:
            self._faults.remove(fault)
            if fault[1] is not None:
                writer.write(fault[1])
                await writer.drain()
            writer.close()
            return
        await self._relay(head, body, reader, writer)

    async def _relay(
        self, head: bytes, body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        head = re.sub(rb"(?im)^connection:.*\r\n", b"", head).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        up_writer.write(head + body)
        watcher = asyncio.ensure_future(reader.read(1))  # b"" when the client hangs up
        try:
            await self._pump(up_reader, writer, watcher)
        finally:
            watcher.cancel()
            up_writer.close()
            writer.close()

    async def _pump(
        self, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter, watcher: asyncio.Future
    ) -> None:
        pending, events, held = b"", 0, False
        while True:
            reading = asyncio.ensure_future(upstream.read(65536))
            await asyncio.wait({reading, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done() and not reading.done():  # the client left (it may simply have read everything)
                reading.cancel()
                return
            data = await reading
            if not data:
                writer.write(pending)
                return
            pending += data
            if self._hold_after is not None and not held:
                cut_at = _end_of_event(pending, self._hold_after - events)
                if cut_at is None:
                    events += pending.count(b"data:")
                    writer.write(pending)
                    pending = b""
                    continue
                writer.write(pending[:cut_at])
                await writer.drain()
                pending, held = pending[cut_at:], True
                self.holding.set()
                if not await self._hold(watcher):
                    return
            writer.write(pending)
            pending = b""

    async def _hold(self, watcher: asyncio.Future) -> bool:
        """Wait for release or cut; False when the relay must stop (cut, or the client hung up)."""
        go = asyncio.ensure_future(self._go.wait())
        await asyncio.wait({go, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not go.done():
            go.cancel()
            self.client_hung_up.set()
            return False
        return not self._cut


def _end_of_event(data: bytes, events: int) -> int | None:
    """Where the ``events``-th server-sent event in ``data`` ends (after its blank line), or None."""
    at = 0
    for _ in range(max(events, 1)):
        start = data.find(b"data:", at)
        if start < 0:
            return None
        match = re.compile(rb"\r?\n\r?\n").search(data, start)
        if match is None:
            return None
        at = match.end()
    return at


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(_headers(head).get("content-length", "0"))
    return head, await reader.readexactly(length) if length else b""


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if ":" in line)}
