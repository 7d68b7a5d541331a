"""The stand-in's front door: every HTTPS request, routed by Host header.

Websocket upgrades go to the gateway or the voice gateway; CDN hosts serve stored blobs; the
API host runs the REST table after authorization, rate limiting and any injected error, and
every request is recorded for the test.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from tests.standin import payloads
from tests.standin.ratelimit import too_many_requests_headers
from tests.standin.rest import Call, RecordedRequest, find_route
from tests.standin.tls import API_HOST, CDN_HOST, GATEWAY_HOST, MEDIA_HOST, VOICE_HOST
from tests.standin.validation import ApiError, UploadedFile

if TYPE_CHECKING:
    from tests.standin.server import DiscordStandin

API_PREFIX = "/api/v10"


@dataclass
class InjectedError:
    """A test-requested failure for the next `remaining` requests matching a method and path glob."""

    method: str
    path_glob: str
    status: int
    code: int
    message: str
    remaining: int
    retry_after: float
    is_global: bool

    def matches(self, method: str, path: str) -> bool:
        method_ok = self.method in ("*", method)
        return self.remaining > 0 and method_ok and fnmatch.fnmatchcase(path, self.path_glob)


class Router:
    """Handles every request to the stand-in's port and keeps the activity clock `idle()` reads."""

    def __init__(self, standin: DiscordStandin) -> None:
        self.standin = standin
        self.injected: list[InjectedError] = []
        self.inflight = 0
        self.last_request = 0.0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await self.standin.while_stalled()
        host = (request.host or "").split(":")[0]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if host == GATEWAY_HOST:
                return await self.standin.gateway.serve(request)
            if host == VOICE_HOST:
                return await self.standin.voice.serve(request)
        loop = asyncio.get_running_loop()
        self.inflight += 1
        self.last_request = loop.time()
        record = RecordedRequest(request.method, request.path, self.standin.clock(), dict(request.query), host=host)
        self.standin.requests.append(record)
        self.standin.notify()
        try:
            if host in (CDN_HOST, MEDIA_HOST):
                response = self._cdn(record)
            elif host == API_HOST and request.path.startswith(API_PREFIX + "/"):
                response = await self._rest(request, record)
            else:
                response = self._unknown(record)
            record.status = response.status
            return response
        finally:
            self.inflight -= 1
            self.last_request = loop.time()
            self.standin.notify()

    def _unknown(self, record: RecordedRequest) -> web.Response:
        self.standin.unknown_requests.append(record)
        return _json(404, payloads.error_payload(0, "404: Not Found"))

    def _cdn(self, record: RecordedRequest) -> web.Response:
        injected = self._take_injection(record)
        if injected is not None:
            return _json(injected.status, payloads.error_payload(injected.code, injected.message))
        blob = self.standin.world.blobs.get(record.path)
        if blob is None or record.method != "GET":
            return self._unknown(record)
        return web.Response(body=blob.data, content_type=blob.content_type)

    async def _rest(self, request: web.Request, record: RecordedRequest) -> web.Response:
        standin = self.standin
        # Split the raw path before decoding, so an encoded "/" inside a segment stays in it.
        segments = [unquote(part) for part in request.raw_path.split("?")[0][len(API_PREFIX) :].strip("/").split("/")]
        record.path = "/" + "/".join(segments)
        record.json, record.files = await _read_body(request)
        found = find_route(request.method, segments)
        if found is None:
            response = self._unknown(record)
            response.headers.update(standin.limiter.check("unknown", record.path, record.at).headers)
            return response
        route, params = found
        record.route = route.template
        record.authorized = request.headers.get("Authorization") == f"Bot {standin.token}"
        bucket = route.bucket or f"{route.method} {route.template}"
        verdict = standin.limiter.check(bucket, params.get(route.major, ""), record.at)
        if not verdict.allowed:
            standin.ratelimited.append(record)
            return _too_many(verdict.retry_after, verdict.headers, is_global=False)
        if route.auth and not record.authorized:
            return _json(401, payloads.error_payload(0, "401: Unauthorized"), verdict.headers)
        injected = self._take_injection(record)
        if injected is not None and injected.status == 429:
            standin.ratelimited.append(record)
            return _too_many(injected.retry_after, verdict.headers, is_global=injected.is_global)
        if injected is not None:
            return _json(injected.status, payloads.error_payload(injected.code, injected.message), verdict.headers)
        try:
            reply = await route.handler(standin, Call(params, request.query, record.json, record.files, record.at))
        except ApiError as error:
            record.response = payloads.error_payload(error.code, error.message, error.errors)
            return _json(error.status, record.response, verdict.headers)
        record.response = reply.body
        if reply.status == 204:
            return web.Response(status=204, headers=verdict.headers)
        return _json(reply.status, reply.body, verdict.headers)

    def _take_injection(self, record: RecordedRequest) -> InjectedError | None:
        for injected in self.injected:
            if injected.matches(record.method, record.path):
                injected.remaining -= 1
                return injected
        return None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py compares the header verbatim (no "; charset=utf-8").
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers)


def _too_many(retry_after: float, headers: dict[str, str], *, is_global: bool) -> web.Response:
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
    return _json(429, body, {**headers, **too_many_requests_headers(retry_after, is_global=is_global)})


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON, or multipart with `payload_json` and literal `files[n]` parts (as discord.py sends)."""
    if not request.body_exists:
        return None, []
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = bytes(await part.read())  # type: ignore[union-attr]
            if part.name == "payload_json":
                payload = json.loads(data)
            else:
                files.append(UploadedFile(part.name or "", part.filename or "", data))  # type: ignore[union-attr]
        return payload, files
    text = await request.text()
    return (json.loads(text) if text else None), []
