"""An engine for any OpenAI-compatible model server: llama.cpp's llama-server, vLLM, Ollama, LM Studio.

Each slot names its server (``SEL_*_URL``, a base URL ending in /v1) and the model's name there.
Replies stream over server-sent events. What this engine promises:

- Reasoning never becomes reply text: ``reasoning_content`` and ``<think>`` blocks come out as
  :class:`~sel.domain.Thought` items. Until a slot's model has answered once, the start of a reply is
  held back until it is clear whether it is reasoning (a template may open ``<think>`` itself).
- Connection errors and 429/503 are retried with backoff, honouring ``Retry-After``, but never once
  the server has sent generated text. A server that stays away raises
  :class:`~sel.errors.ServerUnavailableError`, one line naming the URL and the fix; nothing is sticky,
  the next request simply tries again.
- Closing the stream closes the HTTP response, so the server stops generating.
- The prompt keeps the stable-first layout and is trimmed in chunks (sel.llm.prompt.fit_turns, against
  SEL_CTX with a character estimate), so llama-server's prompt cache (``cache_prompt``) keeps the
  conversation's prefix. No ``id_slot`` is sent: llama-server already gives a request the idle slot
  whose cached prompt is most similar, without pinning two conversations to one busy slot.
- A slot on ``chat`` whose server answers that the model has no chat template (vLLM does) switches to
  ``completions`` with SEL's transcript prompt, once, and stays there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any

from sel.config import LlmSettings, RemoteSlot
from sel.domain import GenerationStats, PromptPlan, Thought, Turn
from sel.errors import ModelError, ServerUnavailableError
from sel.llm.openai_api import ChunkDecoder, Piece, ServerRequest, build_request, estimate_tokens
from sel.llm.prompt import fit_turns
from sel.llm.retry import RETRIES, retry_delay
from sel.llm.server_errors import (
    Retry,
    auth_headers,
    model_problem,
    status_problem,
    stream_problem,
    transport_problem,
)
from sel.llm.sse import sse_data

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)
LIST_TIMEOUT = 30.0  # seconds for a model list: a server that takes longer is not answering


class HttpEngine:
    """Streams replies from OpenAI-compatible servers, one per remote slot."""

    def __init__(
        self,
        slots: Mapping[str, RemoteSlot],
        settings: LlmSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retries: int = RETRIES,
        rng: random.Random | None = None,
    ) -> None:
        self.slots = dict(slots)
        self.settings = settings
        self.last_stats: GenerationStats | None = None
        self._transport = transport
        self._retries = retries
        self._rng = rng or random.Random()
        self._apis = {slot: remote.api for slot, remote in self.slots.items()}
        self._llama_cpp: dict[str, bool] = {}  # the server said it is llama.cpp: send its cache fields
        self._thinks: dict[str, bool] = {}  # a </think> came from the model: its replies may start in reasoning
        self._anchors: dict[tuple[str, str], Turn | None] = {}
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # ---- generation ---------------------------------------------------------------

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str | Thought, None]:
        """Yield reply text and Thought items as the server streams them. Closing the iterator cancels."""
        remote = self._remote(slot)
        if slot not in self._llama_cpp:
            await self._identify(remote)
        stats = GenerationStats(slot, remote.model, conversation)
        self.last_stats = stats
        budget = min(max_tokens or self.settings.max_new_tokens, self.settings.ctx * 3 // 4)
        plan = self._fit(slot, conversation, plan, budget)
        for attempt in range(self._retries + 1):
            request = self._request(remote, plan, budget)
            decoder = ChunkDecoder(stats, time.perf_counter(), hold_start=self._thinks.get(slot, True))
            decoder.leading = not plan.prefill.strip()  # a continued reply keeps its first space
            try:
                async with contextlib.aclosing(self._attempt(remote, request, decoder)) as pieces:
                    async for piece in pieces:
                        yield piece
                self._thinks[slot] = decoder.splitter.saw_close
                return
            except GeneratorExit:  # the caller closed the stream: the response is closed on the way out
                stats.cancelled = True
                raise
            except Retry as retry:
                if decoder.received or attempt == self._retries:
                    raise retry.error from None
                if retry.fallback_api:
                    log.warning("%s: the model has no chat template; using /completions", remote.base_url)
                    self._apis[slot] = retry.fallback_api
                wait = retry_delay(attempt, retry.after, self._rng, now=time.time())
                log.info("%s: %s; retrying in %.1f s", remote.base_url, retry.error.kind, wait)
                await asyncio.sleep(wait)

    def _request(self, remote: RemoteSlot, plan: PromptPlan, max_tokens: int) -> ServerRequest:
        slot = remote.slot
        llama_cpp = self._llama_cpp.get(slot, False)
        return build_request(
            remote, plan, self.settings, api=self._apis[slot], max_tokens=max_tokens, llama_cpp=llama_cpp
        )

    async def complete(self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None) -> str:
        """The whole reply's text (reasoning left out)."""
        pieces = self.stream(slot, plan, conversation=conversation, max_tokens=max_tokens)
        return "".join([p async for p in pieces if isinstance(p, str)])

    async def _attempt(
        self, remote: RemoteSlot, request: ServerRequest, decoder: ChunkDecoder
    ) -> AsyncGenerator[Piece, None]:
        import httpx

        url = remote.base_url + request.path
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream", **auth_headers(remote)}
        try:
            async with self._http().stream("POST", url, content=request.body, headers=headers) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise status_problem(remote, response.status_code, response.headers, response.text, request.path)
                async for payload in sse_data(response.aiter_lines()):
                    chunk = _chunk(payload)
                    if "error" in chunk:
                        raise stream_problem(remote, chunk)
                    for piece in decoder.feed(chunk, time.perf_counter()):
                        yield piece
        except httpx.TransportError as err:
            raise transport_problem(remote, err, self.settings, received=decoder.received) from None
        for piece in decoder.finish(time.perf_counter()):
            yield piece

    def _fit(self, slot: str, conversation: str, plan: PromptPlan, max_tokens: int) -> PromptPlan:
        """Trim old turns in chunks, as the local engine does, so the prompt's start stays put."""
        key = (slot, conversation)
        budget = max(self.settings.ctx - max_tokens, 64)
        fitted, self._anchors[key] = fit_turns(plan, estimate_tokens, budget, self._anchors.get(key))
        return fitted

    # ---- checks -------------------------------------------------------------------

    async def warm_up(self, slot: str = "general") -> None:
        """Raise ServerUnavailableError unless ``slot``'s server answers and serves its model."""
        problem = await self._probe(self._remote(slot), retries=self._retries)
        if problem is not None:
            raise problem

    async def check(self) -> list[str]:
        """One line per problem (server down, key refused, model not there), each with its fix."""
        problems = await asyncio.gather(*(self.check_slot(slot) for slot in self.slots))
        return [p for p in problems if p is not None]

    async def check_slot(self, slot: str) -> str | None:
        """The problem with ``slot``'s server as one line, or None when it serves the model."""
        problem = await self._probe(self._remote(slot), retries=0)
        return None if problem is None else str(problem)

    async def models(self, slot: str) -> list[str]:
        """The model names ``slot``'s server lists (``/models``); ServerUnavailableError when it cannot say."""
        remote = self._remote(slot)
        return [str(m.get("id")) for m in await self._list_models(remote)]

    async def _probe(self, remote: RemoteSlot, *, retries: int) -> ServerUnavailableError | None:
        for attempt in range(retries + 1):
            try:
                models = await self._list_models(remote)
            except Retry as retry:
                if attempt == retries:
                    return retry.error
                await asyncio.sleep(retry_delay(attempt, retry.after, self._rng, now=time.time()))
                continue
            except ServerUnavailableError as err:
                return err
            return model_problem(remote, models)
        return None

    async def _list_models(self, remote: RemoteSlot) -> list[dict[str, Any]]:
        import httpx

        try:
            response = await self._http().get(
                remote.base_url + "/models",
                headers=auth_headers(remote),
                timeout=httpx.Timeout(
                    min(self.settings.read_timeout, LIST_TIMEOUT), connect=self.settings.connect_timeout
                ),
            )
        except httpx.TransportError as err:
            raise transport_problem(remote, err, self.settings, received=False) from None
        if response.status_code != 200:
            raise status_problem(remote, response.status_code, response.headers, response.text, "/models")
        data = _chunk(response.text).get("data")
        models = [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []
        # llama-server lists its model as owned by "llamacpp": it understands cache_prompt.
        self._llama_cpp[remote.slot] = any(m.get("owned_by") == "llamacpp" for m in models)
        return models

    async def _identify(self, remote: RemoteSlot) -> None:
        """Learn whether the server is llama.cpp; until it says, it is treated as a plain one (asked again later)."""
        with contextlib.suppress(ServerUnavailableError, Retry):  # the request itself will report the problem
            await self._list_models(remote)

    # ---- plumbing -----------------------------------------------------------------

    def _remote(self, slot: str) -> RemoteSlot:
        remote = self.slots.get(slot)
        if remote is None:
            raise ModelError(f"no model server is configured for the {slot!r} slot; set SEL_{slot.upper()}_URL")
        return remote

    def _http(self) -> httpx.AsyncClient:
        """One pooled client per event loop: connections cannot move between loops."""
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
            self._client = httpx.AsyncClient(timeout=timeout, transport=self._transport)
            self._client_loop = loop
        return self._client

    def status(self) -> dict[str, Any]:
        stats = self.last_stats
        return {
            "slots": {
                slot: {"url": r.base_url, "model": r.model, "api": self._apis[slot]} for slot, r in self.slots.items()
            },
            "last": None
            if stats is None
            else {
                "slot": stats.slot,
                "model": stats.model_path,
                "tokens_per_second": round(stats.tokens_per_second, 1),
                "time_to_first_token": round(stats.time_to_first_token, 3),
                "prompt_tokens": stats.prompt_tokens,
                "completion_tokens": stats.completion_tokens,
            },
        }

    async def aclose(self) -> None:
        """Close the pooled connections."""
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.aclose()

    def close(self) -> None:
        """Forget the client; its connections close with it (use :meth:`aclose` inside a loop)."""
        self._client = None


def _chunk(payload: str) -> dict[str, Any]:
    """One JSON object from the server; anything else (a garbled line) counts as empty."""
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
