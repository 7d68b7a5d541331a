"""The generation loops that run on the worker thread: text (with KV reuse) and pictures.

Text goes through the resident model's prompt format and ``create_completion``: the prompt is
trimmed to fit the context at a stable place (so the KV prefix survives), the conversation's
KV state is switched in, and each token is handed to the reader as it comes. Pictures go
through the model's multimodal chat handler, one whole prompt per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sel.config import LlmSettings
from sel.domain import GenerationStats, PromptPlan, Turn
from sel.errors import ModelError
from sel.llm.prompt import Rendered, chat_messages, fit_turns
from sel.llm.reasoning import OPEN, Piece, ThinkSplitter
from sel.llm.residency import Residency, Resident
from sel.llm.worker import StreamJob
from sel.undecodable import replace_undecodable

PROMPT_MARGIN = 8  # tokens kept free beyond max_tokens, for stop-string look-ahead
MIN_REPLY_TOKENS = 8


@dataclass(frozen=True)
class Request:
    """One reply to generate: which slot, what prompt, for which conversation, how long at most."""

    slot: str
    plan: PromptPlan
    conversation: str
    max_tokens: int


class ReplyGenerator:
    """Runs requests on resident models; ``last_stats`` is the newest generation's, live while it runs."""

    def __init__(self, settings: LlmSettings, residency: Residency) -> None:
        self.settings = settings
        self.residency = residency
        self.last_stats: GenerationStats | None = None
        self._anchors: dict[tuple[Path, str], Turn | None] = {}  # where each conversation's trimmed history starts

    def run(self, job: StreamJob, request: Request) -> None:
        """Generate ``request`` on the worker thread, emitting reply text and Thought items to ``job``."""
        if request.plan.images:
            self._generate_with_images(job, request)
        else:
            self._generate_text(job, request)

    def _start(self, request: Request, resident: Resident, load_seconds: float) -> GenerationStats:
        stats = GenerationStats(request.slot, str(resident.path), request.conversation, load_seconds=load_seconds)
        self.last_stats = stats
        return stats

    def _generate_text(self, job: StreamJob, request: Request) -> None:
        resident, load_seconds = self.residency.acquire(request.slot)
        stats = self._start(request, resident, load_seconds)
        stats.restored_snapshot = self.residency.switch_conversation(resident, request.conversation)
        # A reply may use at most three quarters of the context: the prompt keeps room for the
        # persona and the message being answered, however large SEL_MAX_NEW_TOKENS is.
        max_tokens = min(request.max_tokens, resident.llm.n_ctx() * 3 // 4)
        rendered = self._fit(resident, request, stats, max_tokens)
        llm = resident.llm
        llm.evaluated = 0
        chunks = llm.create_completion(
            prompt_text(rendered),
            max_tokens=max_tokens,
            **_sampling(request, self.settings),
            stop=list(rendered.stop),
            stream=True,
        )
        # A template that opens the reasoning block itself leaves the model's output inside it.
        splitter = ThinkSplitter(start_in_thought=rendered.text.rstrip().endswith(OPEN))
        # A continued reply's first token may be the space between two words: it is kept.
        leading = not request.plan.prefill.strip()
        _stream_text(job, stats, chunks, rendered.stop, lambda: llm.evaluated, splitter, leading=leading)

    def _fit(self, resident: Resident, request: Request, stats: GenerationStats, max_tokens: int) -> Rendered:
        """The prompt trimmed to leave ``max_tokens`` free; a ModelError when even the untrimmable part is too long."""
        llm = resident.llm

        def count(plan: PromptPlan) -> int:
            return len(llm.tokenize(prompt_text(resident.fmt.render(plan)).encode("utf-8"), special=True))

        budget = llm.n_ctx() - max_tokens - PROMPT_MARGIN
        anchor_key = (resident.path, request.conversation)
        plan, anchor = fit_turns(request.plan, count, budget, self._anchors.get(anchor_key))
        self._anchors[anchor_key] = anchor
        stats.trimmed_turns = len(request.plan.turns) - len(plan.turns)
        stats.prompt_tokens = count(plan)
        # The persona, the notes and the message itself cannot be trimmed: if they leave no room
        # for a reply, say which setting to change (llama.cpp itself would raise a bare ValueError).
        if llm.n_ctx() - stats.prompt_tokens - PROMPT_MARGIN < MIN_REPLY_TOKENS:
            raise ModelError(
                f"SEL_CTX={llm.n_ctx()} is too small: the persona and the message take {stats.prompt_tokens} tokens; "
                "raise SEL_CTX (4096 is a good start)"
            )
        return resident.fmt.render(plan)

    def _generate_with_images(self, job: StreamJob, request: Request) -> None:
        """Pictures go through the model's multimodal chat handler (mtmd), one whole prompt per call."""
        resident, load_seconds = self.residency.acquire(request.slot)
        if resident.llm.chat_handler is None:
            raise ModelError(
                f"the {request.slot} slot has no image projector; set SEL_VISION_MODEL and SEL_VISION_MMPROJ together"
            )
        self.residency.park(resident)  # the handler evaluates its own prompt: the KV cache holds no conversation now
        stats = self._start(request, resident, load_seconds)
        chunks = resident.llm.create_chat_completion(
            messages=chat_messages(request.plan),
            max_tokens=request.max_tokens,
            **_sampling(request, self.settings),
            stream=True,
        )
        _stream_chat(job, stats, chunks, ThinkSplitter())


def _stream_text(
    job: StreamJob,
    stats: GenerationStats,
    chunks: Generator[dict[str, Any], None, None],
    stops: tuple[str, ...],
    evaluated: Callable[[], int],
    splitter: ThinkSplitter,
    *,
    leading: bool = True,
) -> None:
    """Hand ``create_completion``'s chunks to the reader as reply text and thoughts, stopping at a cancel."""
    started = time.perf_counter()
    first_at: float | None = None
    # One chunk is held back: when the reply is cut at max_tokens, llama-cpp-python flushes
    # text it held for a possible stop string ("\nali" of "\nalice:"), which we trim.
    pending = ""
    finish: str | None = None
    try:
        for chunk in chunks:
            if job.cancelled.is_set():
                stats.cancelled = True
                stats.tokens_after_cancel = job.produced - job.produced_at_cancel
                break
            choice = chunk["choices"][0]
            finish = choice["finish_reason"]
            if finish is not None and not choice["text"]:
                break  # the closing chunk carries no token
            if first_at is None:
                first_at = time.perf_counter()
                stats.time_to_first_token = first_at - started
                stats.prefilled_tokens = evaluated()
            stats.completion_tokens += 1
            job.produced += 1
            text = choice["text"]
            if leading:  # the transcript's "SEL:" is followed by a space the reader does not need
                text = text.lstrip()
                leading = not text
            if text:
                _emit(job, splitter.feed(pending))
                pending = text
        if not stats.cancelled:
            stats.finish_reason = finish or ""
            if finish == "length":
                pending = trim_partial_stop(pending, stops)
            _emit(job, [*splitter.feed(pending), *splitter.finish()])
    finally:
        chunks.close()
        if first_at is not None:
            stats.decode_seconds = time.perf_counter() - first_at


def _stream_chat(job: StreamJob, stats: GenerationStats, chunks: Iterator[Any], splitter: ThinkSplitter) -> None:
    """Hand a chat completion's deltas to the reader as reply text and thoughts, stopping at a cancel."""
    started = time.perf_counter()
    first_at: float | None = None
    try:
        for chunk in chunks:
            if job.cancelled.is_set():
                stats.cancelled = True
                break
            text = chunk["choices"][0].get("delta", {}).get("content") or ""
            if not text:
                continue
            if first_at is None:
                first_at = time.perf_counter()
                stats.time_to_first_token = first_at - started
            stats.completion_tokens += 1
            job.produced += 1
            _emit(job, splitter.feed(text))
        if not stats.cancelled:
            _emit(job, splitter.finish())
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        if first_at is not None:
            stats.decode_seconds = time.perf_counter() - first_at


def _emit(job: StreamJob, pieces: list[Piece]) -> None:
    for piece in pieces:
        job.emit(piece)


def prompt_text(rendered: Rendered) -> str:
    """The prompt as text llama.cpp can tokenize: a lone surrogate (an undecodable byte) cannot be UTF-8 encoded."""
    return replace_undecodable(rendered.text)


def trim_partial_stop(text: str, stops: tuple[str, ...]) -> str:
    """Drop a trailing beginning of a stop string (e.g. "\nali" of "\nalice:") from ``text``."""
    for stop in stops:
        for k in range(len(stop) - 1, 0, -1):
            if text.endswith(stop[:k]):
                return text[: len(text) - k].rstrip() if stop[:k].strip() else text
    return text


def _sampling(request: Request, settings: LlmSettings) -> dict[str, float]:
    """The owner's sampling for the reply's mode (sel.toml), `.env`'s where it sets none."""
    return request.plan.sampling.over(
        temperature=settings.temperature, top_p=settings.top_p, repeat_penalty=settings.repeat_penalty
    )
