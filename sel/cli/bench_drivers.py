"""How `sel bench engine` drives replies and turns them into figures.

A *drive* streams one person's reply as text pieces. :func:`sel_drive` goes through SEL's engine
(in-process or a server behind SEL_GENERAL_URL); :class:`DirectClient` sends the same request body
SEL would send straight to the server and reads the raw stream, so SEL's own cost shows as a ratio.
:func:`race` starts the four people's replies at the same moment and times each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.config import LlmSettings, RemoteSlot, Settings
from sel.domain import PromptPlan, Turn

if TYPE_CHECKING:
    import httpx

    from sel.llm.engine import Engine


@dataclass(frozen=True)
class Person:
    """One person talking to SEL: a name and the conversation their message ends."""

    name: str
    plan: PromptPlan


@dataclass
class Reply:
    """One streamed reply, timed from the moment all requests of its race started."""

    first_token_s: float | None = None  # the first piece a person would see (not just whitespace)
    end_s: float = 0.0
    text: str = ""


Drive = Callable[[Person, str], AsyncGenerator[str, None]]  # (person, conversation id) -> reply text pieces
WARM_UP = PromptPlan("Warm-up.", (Turn("someone", "hello"),))  # shares no prefix with the measured prompts


class Vocabulary:
    """The model's tokenizer (vocabulary only, no weights): counts prompts and replies alike on every path."""

    def __init__(self, model: Path) -> None:
        from llama_cpp import Llama

        from sel.llm.residency import prompt_format_for, route_llama_logs

        route_llama_logs()  # llama.cpp's notes go to the log, not into the bench's output
        self._llm = Llama(model_path=str(model), vocab_only=True, verbose=False)
        self.has_chat_template = bool(self._llm.metadata.get("tokenizer.chat_template"))
        self._format = prompt_format_for(self._llm)

    def count(self, text: str) -> int:
        return len(self._llm.tokenize(text.strip().encode("utf-8"), add_bos=False, special=True)) if text else 0

    def prompt_tokens(self, plan: PromptPlan) -> int:
        """The plan's length in tokens as SEL renders it for this model."""
        return self.count(self._format.render(plan).text)


async def race(people: Sequence[Person], drive: Drive, tag: str) -> list[Reply]:
    """Start every person's reply at once; each reply's timings count from that moment."""
    started = time.perf_counter()

    async def one(person: Person) -> Reply:
        reply = Reply()
        async with contextlib.aclosing(drive(person, f"{person.name}-{tag}")) as pieces:
            async for text in pieces:
                if reply.first_token_s is None and text.strip():
                    reply.first_token_s = time.perf_counter() - started
                reply.text += text
        reply.end_s = time.perf_counter() - started
        return reply

    return list(await asyncio.gather(*(one(person) for person in people)))


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def counting_retries() -> Iterator[list[logging.LogRecord]]:
    """The warnings SEL's HTTP engine logs meanwhile: one for every request it has to send again."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    logger = logging.getLogger("sel.llm.http_engine")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


async def open_sel(settings: Settings) -> Engine:
    """SEL's engine for ``settings``, warmed up: model loaded (or server checked) and one token generated."""
    from sel.llm.engine import Engine

    engine = Engine(settings.llm)
    await engine.warm_up("general")
    await engine.complete("general", WARM_UP, conversation="warm-up", max_tokens=1)
    return engine


def sel_drive(engine: Engine, max_tokens: int) -> Drive:
    """Replies through SEL's engine on the general slot (reasoning items are not reply text)."""

    async def drive(person: Person, conversation: str) -> AsyncGenerator[str, None]:
        items = engine.stream("general", person.plan, conversation=conversation, max_tokens=max_tokens)
        async with contextlib.aclosing(items):
            async for item in items:
                if isinstance(item, str):
                    yield item

    return drive


@dataclass
class DirectClient:
    """Raw streamed HTTP to a server, with the request bodies SEL builds (sel.llm.openai_api)."""

    url: str
    settings: LlmSettings
    api: str
    timings: dict[str, Any] = field(default_factory=dict)  # llama-server's figures for the latest reply
    generated: int | None = None  # tokens generated, as the servers' usage figures count them (None: not sent)
    stale_connections: int = 0  # requests sent again because the server had closed the pooled connection
    _client: httpx.AsyncClient | None = None
    _llama_cpp: bool = False

    async def open(self) -> None:
        """Connect, and learn (as SEL does) whether the server is llama.cpp and takes cache_prompt."""
        import httpx

        timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
        self._client = httpx.AsyncClient(timeout=timeout)
        answer = await self._client.get(self.url + "/models")
        answer.raise_for_status()
        self._llama_cpp = any(m.get("owned_by") == "llamacpp" for m in answer.json().get("data", []))

    async def warm_up(self) -> None:
        """One token, so the measured replies pay for no first-request set-up; the counters start at zero."""
        async for _ in self.stream(WARM_UP, 1):
            pass
        self.generated, self.stale_connections = None, 0

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def drive(self, max_tokens: int) -> Drive:
        async def drive(person: Person, conversation: str) -> AsyncGenerator[str, None]:
            async for text in self.stream(person.plan, max_tokens):
                yield text

        return drive

    async def stream(self, plan: PromptPlan, max_tokens: int) -> AsyncGenerator[str, None]:
        """The reply's text pieces as the server sends them; ``timings`` keeps its last figures.

        A pooled connection the server closed just as it was reused (llama-server does this now and
        then after a streamed reply) is retried at once, on a new connection, before any text came.
        """
        import httpx

        from sel.cli.bench_servers import SERVED_NAME
        from sel.llm.openai_api import build_request

        remote = RemoteSlot("general", self.url, SERVED_NAME, None, self.api)
        request = build_request(
            remote, plan, self.settings, api=self.api, max_tokens=max_tokens, llama_cpp=self._llama_cpp
        )
        for attempt in range(2):
            received = False
            try:
                async for text in self._post(request.path, request.body):
                    received = True
                    yield text
                return
            except httpx.RemoteProtocolError:
                if received or attempt:
                    raise
                self.stale_connections += 1

    async def _post(self, path: str, body: bytes) -> AsyncGenerator[str, None]:
        assert self._client is not None, "open() first"
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        self.timings = {}
        async with self._client.stream("POST", self.url + path, content=body, headers=headers) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                payload = line.removeprefix("data:").strip()
                if not line.startswith("data:") or payload == "[DONE]":
                    continue
                chunk = json.loads(payload)
                self.timings.update(chunk.get("timings") or {})
                self._count_usage(chunk)
                text = _chunk_text(chunk)
                if text:
                    yield text

    def _count_usage(self, chunk: dict[str, Any]) -> None:
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self.generated = (self.generated or 0) + usage["completion_tokens"]


def _chunk_text(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or [{}]
    text = choices[0].get("text") or (choices[0].get("delta") or {}).get("content") or ""
    return text if isinstance(text, str) else ""


def race_figures(replies: Sequence[Reply], vocabulary: Vocabulary) -> dict[str, Any]:
    """Aggregate tokens/s, p50/p95 and each person's time to first token, last vs first person.

    Tokens are the replies' text counted with the model's tokenizer: the same count on every path
    (SEL's stream hands out text, not tokens); for real models it matches the generated tokens
    within a few per cent, which ``server_tokens`` on the direct runs shows where servers report usage.
    """
    tokens = sum(vocabulary.count(reply.text) for reply in replies)
    wall = max(reply.end_s for reply in replies)
    firsts = [reply.first_token_s if reply.first_token_s is not None else reply.end_s for reply in replies]
    return {
        "tokens": tokens,
        "tokens_per_s": tokens / wall if wall > 0 else 0.0,
        "ttft_p50_s": statistics.median(firsts),
        "ttft_p95_s": percentile_95(firsts),
        "first_token_s": firsts,
        "last_vs_first_ttft": max(firsts) / min(firsts) if min(firsts) > 0 else None,
    }


def percentile_95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def median_figures(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds (lists element by element), rounded for the report."""
    out: dict[str, Any] = {}
    for key, first in rounds[0].items():
        values = [r[key] for r in rounds]
        if isinstance(first, list):
            out[key] = [round(statistics.median(column), 3) for column in zip(*values, strict=True)]
        elif all(isinstance(v, int | float) for v in values):
            out[key] = round(statistics.median(values), 3)
        else:
            out[key] = None
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` rounded for the report; None when either is unknown (or ``b`` is zero)."""
    return round(a / b, 3) if a is not None and b else None
