"""What went wrong talking to a model server, as one line naming the URL and the fix.

Each function returns the exception to raise: a :class:`Retry` for what is worth asking again
(connection errors, 429/503, a chat request to a model without a chat template), else a
:class:`~sel.errors.ServerUnavailableError` whose ``kind`` tells the frontends which kind message to show.
The API key is never part of a message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sel.config import LlmSettings, RemoteSlot
from sel.errors import ServerUnavailableError

if TYPE_CHECKING:
    import httpx

DETAIL_MAX = 160
RETRY_STATUSES = (429, 503)


class Retry(Exception):
    """A request worth trying again; ``error`` is raised when the retries run out."""

    def __init__(
        self, error: ServerUnavailableError, *, after: str | None = None, fallback_api: str | None = None
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.after = after  # the server's Retry-After header
        self.fallback_api = fallback_api  # the endpoint to use from now on


def auth_headers(remote: RemoteSlot) -> dict[str, str]:
    return {"Authorization": f"Bearer {remote.api_key}"} if remote.api_key else {}


def status_problem(
    remote: RemoteSlot, status: int, headers: Mapping[str, str], body: str, path: str
) -> Retry | ServerUnavailableError:
    """The exception for an answer with HTTP status ``status`` (not 200)."""
    where, slot = _where(remote), remote.slot.upper()
    detail = _detail(body, remote.api_key)
    if status in (401, 403):
        message = f"{where}: the server refused the API key (HTTP {status}); set SEL_{slot}_API_KEY or SEL_API_KEY"
        return _error(remote, message, "auth")
    if status in RETRY_STATUSES:
        message = f"{where}: the server is busy (HTTP {status}{detail}); try again later, or give it more slots"
        return Retry(_error(remote, message, "busy"), after=headers.get("retry-after"))
    if path == "/chat/completions" and status in (400, 422, 500) and "chat template" in body.lower().replace("_", " "):
        message = f"{where}: the model has no chat template (HTTP {status}); set SEL_{slot}_API=completions"
        return Retry(_error(remote, message, "http"), after="0", fallback_api="completions")
    if status == 404:
        message = (
            f"{where}: HTTP 404 on {path}{detail}; the URL must be the server's OpenAI-compatible base "
            f"(usually ending in /v1) and SEL_{slot}_MODEL a model it serves (`sel doctor` lists them)"
        )
        return _error(remote, message, "model" if "model" in detail.lower() else "http")
    return _error(remote, f"{where}: the server answered HTTP {status}{detail}; check the server's log", "http")


def transport_problem(
    remote: RemoteSlot, err: httpx.TransportError, settings: LlmSettings, *, received: bool
) -> Retry | ServerUnavailableError:
    """The exception for a connection that failed, timed out or broke (``received``: text had arrived)."""
    import httpx

    where = _where(remote)
    if isinstance(err, httpx.ConnectTimeout):
        message = (
            f"{where}: no connection within {settings.connect_timeout:g} s; "
            "start the server, fix the URL or raise SEL_CONNECT_TIMEOUT"
        )
        return Retry(_error(remote, message, "timeout"))
    if isinstance(err, httpx.ConnectError):
        return Retry(
            _error(remote, f"{where}: cannot connect ({_reason(err)}); start the server or fix the URL", "connect")
        )
    if isinstance(err, httpx.TimeoutException):  # read, write or pool: the server is there but silent
        message = (
            f"{where}: no answer for {settings.read_timeout:g} s; the server may be overloaded or stuck: "
            "check it, or raise SEL_READ_TIMEOUT"
        )
        return _error(remote, message, "timeout")
    message = f"{where}: the connection dropped ({_reason(err)}); check that the server is running and try again"
    if received:  # part of the reply is out: asking again would repeat it
        message = f"{where}: the answer stopped half-way ({_reason(err)}); the server may have crashed: check it"
        return _error(remote, message, "broken")
    return Retry(_error(remote, message, "broken"))


def stream_problem(remote: RemoteSlot, chunk: dict[str, Any]) -> ServerUnavailableError:
    """An error the server sent as an event inside a streamed answer (llama-server does, e.g. for a full context)."""
    detail = _detail(json.dumps(chunk), remote.api_key) or ": no details"
    return _error(remote, f"{_where(remote)}: the server stopped with an error{detail}; check the server's log", "http")


def model_problem(remote: RemoteSlot, models: list[dict[str, Any]]) -> ServerUnavailableError | None:
    """None when the server's model list (``/models``) serves ``remote.model``, else the error naming what it has.

    A name matches a listed id or alias, or Ollama's ``name:latest``. llama-server with one model answers
    to any name, so a server that says it is llama.cpp and lists one model serves whatever SEL asks for.
    """
    names = [str(m.get("id")) for m in models]
    aliases = [str(a) for m in models if isinstance(m.get("aliases"), list) for a in m["aliases"]]
    if {remote.model, f"{remote.model}:latest"} & {*names, *aliases}:
        return None
    if len(models) == 1 and models[0].get("owned_by") == "llamacpp":
        return None
    variable, listed = f"SEL_{remote.slot.upper()}_MODEL", ", ".join(names[:10]) or "none"
    return _error(
        remote,
        f"{variable}={remote.model}: the model is not on {remote.base_url} (it has: {listed}); "
        f"set {variable} to one of those names",
        "model",
    )


def _where(remote: RemoteSlot) -> str:
    return f"SEL_{remote.slot.upper()}_URL={remote.base_url}"


def _error(remote: RemoteSlot, message: str, kind: str) -> ServerUnavailableError:
    return ServerUnavailableError(message, kind=kind, url=remote.base_url)


def _reason(err: BaseException) -> str:
    """The root cause in a few words ("connection refused"): the innermost OS error's text, else the error's."""
    text = ""
    cause: BaseException | None = err
    for _ in range(10):  # httpx wraps anyio's "All connection attempts failed", which wraps the OS error
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.strerror:
            # asyncio words a refusal as "Connect call failed (...)"; the errno says it plainly
            text = os.strerror(cause.errno) if cause.errno and cause.errno > 0 else cause.strerror
        cause = cause.__cause__ or cause.__context__
    text = " ".join((text or str(err) or type(err).__name__).split())
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    return text[:1].lower() + text[1:DETAIL_MAX]


def _detail(body: str, secret: str | None) -> str:
    """The server's own error message, shortened to one line, as ": message" (empty when it gave none)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = body
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message", "")))
        data = error.get("message", "") if isinstance(error, dict) else error
    text = " ".join(str(data).split())[:DETAIL_MAX]
    if secret:
        text = text.replace(secret, "(hidden)")  # a server that echoes the key must not print it here
    return f": {text}" if text else ""
