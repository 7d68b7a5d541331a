"""The LLM engine: model slots, swapping, one worker thread, streaming, cancellation.

A llama.cpp context is not thread-safe, so every model call runs on one worker thread
that takes requests first come, first served. The asyncio side only awaits chunks that
the worker hands over with ``call_soon_threadsafe``; closing the async iterator cancels
the generation within a token.

Slots name roles ("general", "coder", optionally "vision"); several slots may point at
one file. In single-backend mode (SEL_SINGLE_BACKEND=1) at most one model is resident:
asking for another slot's file closes the current model before loading the next.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sel.config import LlmSettings, check_gguf
from sel.domain import GenerationStats
from sel.errors import ModelError, SelError
from sel.llm import kvstate
from sel.llm.prompt import (
    ChatTemplateFormat,
    PromptFormat,
    PromptPlan,
    Rendered,
    TranscriptFormat,
    Turn,
    chat_messages,
    fit_turns,
)
from sel.undecodable import replace_undecodable

log = logging.getLogger(__name__)

SLOT_VARIABLES = {"general": "SEL_GENERAL_MODEL", "coder": "SEL_CODER_MODEL", "vision": "SEL_VISION_MODEL"}
PROMPT_MARGIN = 8  # tokens kept free beyond max_tokens, for stop-string look-ahead
MIN_REPLY_TOKENS = 8
_END = object()


@dataclass
class _Job:
    slot: str
    plan: PromptPlan
    conversation: str
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[Any]
    cancelled: threading.Event = field(default_factory=threading.Event)
    produced: int = 0
    produced_at_cancel: int = 0

    def cancel(self) -> None:
        if not self.cancelled.is_set():
            self.produced_at_cancel = self.produced
            self.cancelled.set()

    def emit(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


@dataclass
class _Resident:
    """A loaded model and the conversation its KV cache currently holds."""

    path: Path
    llm: Any
    fmt: PromptFormat
    conversation: str | None = None


@functools.cache
def _llama_class() -> type:
    """llama_cpp.Llama, counting evaluated tokens so KV reuse can be measured, not guessed."""
    from llama_cpp import Llama

    class CountingLlama(Llama):  # type: ignore[misc]
        evaluated = 0

        def eval(self, tokens: Any) -> None:
            self.evaluated += len(tokens)
            super().eval(tokens)

    return CountingLlama


@functools.cache
def route_llama_logs() -> None:
    """Send llama.cpp's own log lines to Python logging (debug), not straight to stderr."""
    import ctypes

    import llama_cpp

    llama_log = logging.getLogger("llama_cpp")

    @llama_cpp.llama_log_callback
    def forward(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            # 4 is GGML_LOG_LEVEL_ERROR; llama.cpp's warnings are routine (e.g. cache layout notes)
            llama_log.log(logging.WARNING if level == 4 else logging.DEBUG, "%s", message)

    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))
    route_llama_logs.callback = forward  # type: ignore[attr-defined]  # keep it alive: C holds a raw pointer


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


class Engine:
    """Streams replies from the GGUF models named by the slots."""

    def __init__(self, settings: LlmSettings, slots: Mapping[str, Path] | None = None) -> None:
        self.settings = settings
        if slots is None:
            slots = {"general": settings.general_model, "coder": settings.coder_model}
            if settings.vision_model is not None:
                slots = {**slots, "vision": settings.vision_model}
        self.slots = dict(slots)
        self.last_stats: GenerationStats | None = None
        self.swaps = 0
        self.last_load_seconds = 0.0
        self._resident: dict[Path, _Resident] = {}
        self._snapshots = kvstate.SnapshotCache(settings.kv_cache_mb * 1024 * 1024)
        self._anchors: dict[tuple[Path, str], Turn | None] = {}
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    # ---- public API -------------------------------------------------------------

    def check_models(self) -> None:
        """Raise ModelError naming the variable unless every slot's file is a readable GGUF."""
        for slot, path in self.slots.items():
            check_gguf(SLOT_VARIABLES.get(slot, slot), path)

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncGenerator[str, None]:
        """Yield the reply's text chunks as they are generated. Closing the iterator cancels."""
        if slot not in self.slots:
            raise ModelError(f"no model is configured for the {slot!r} slot")
        if self._closed:
            raise RuntimeError("the engine is closed")
        loop = asyncio.get_running_loop()
        job = _Job(slot, plan, conversation, max_tokens or self.settings.max_new_tokens, loop, asyncio.Queue())
        self._start_worker()
        self._jobs.put(job)
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

    async def complete(self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None) -> str:
        """The whole reply as one string."""
        return "".join([c async for c in self.stream(slot, plan, conversation=conversation, max_tokens=max_tokens)])

    def run_blocking(self, fn: Callable[[Any], Any], slot: str | None = "general", *, park: bool = False) -> Any:
        """Run ``fn(llm)`` on the worker thread with ``slot``'s model loaded; blocks the caller.

        ``slot=None`` uses whichever model is resident (no swap), else the general one.
        ``park=True`` first snapshots the conversation held in the KV cache, so a side job
        (fact extraction) does not cost that conversation its warm prefix.
        """
        result: queue.Queue[Any] = queue.Queue()

        def task() -> None:
            try:
                if slot is None and self._resident:
                    resident = next(iter(self._resident.values()))
                else:
                    resident = self._acquire(slot or "general")[0]
                if park:
                    self._park(resident)
                result.put((True, fn(resident.llm)))
            except BaseException as err:  # handed to the caller, which re-raises it
                result.put((False, err))

        self._start_worker()
        self._jobs.put(task)  # type: ignore[arg-type]
        ok, value = result.get()
        if not ok:
            raise value
        return value

    def status(self) -> dict[str, Any]:
        stats = self.last_stats
        return {
            "slots": {slot: str(path) for slot, path in self.slots.items()},
            "loaded": [str(r.path) for r in self._resident.values()],
            "single_backend": self.settings.single_backend,
            "gpu_layers": self._gpu_layers(),
            "swaps": self.swaps,
            "kv_snapshots": len(self._snapshots),
            "kv_snapshot_mb": round(self._snapshots.used / 1e6, 1),
            "last": None
            if stats is None
            else {
                "slot": stats.slot,
                "model": Path(stats.model_path).name,
                "tokens_per_second": round(stats.tokens_per_second, 1),
                "time_to_first_token": round(stats.time_to_first_token, 3),
                "prompt_tokens": stats.prompt_tokens,
                "prefilled_tokens": stats.prefilled_tokens,
                "completion_tokens": stats.completion_tokens,
            },
        }

    def close(self) -> None:
        """Stop the worker and free every model."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join(timeout=60)
        for resident in list(self._resident.values()):
            self._unload(resident)

    # ---- worker thread ----------------------------------------------------------

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="sel-llm", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if not isinstance(job, _Job):
                job()  # a run_blocking task
                continue
            if job.cancelled.is_set():
                job.emit(_END)
                continue
            try:
                self._generate(job)
            except SelError as err:
                job.emit(err)
            except Exception as err:
                log.exception("generation failed (slot %s)", job.slot)
                job.emit(err)
            job.emit(_END)

    def _gpu_layers(self) -> int:
        if self.settings.gpu_layers is not None:
            return self.settings.gpu_layers
        return -1 if gpu_offload_supported() else 0

    def _load(self, slot: str, path: Path) -> _Resident:
        import llama_cpp

        check_gguf(SLOT_VARIABLES.get(slot, slot), path)
        route_llama_logs()
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": self.settings.ctx,
            "n_threads": self.settings.threads,
            "n_threads_batch": self.settings.threads,
            "n_gpu_layers": self._gpu_layers(),
            "flash_attn": self.settings.flash_attn,
            "verbose": False,
        }
        if self.settings.seed >= 0:
            kwargs["seed"] = self.settings.seed
        cache_type = self.settings.kv_cache_type
        if cache_type is not None:
            ggml_type = {"q4_0": llama_cpp.GGML_TYPE_Q4_0, "q8_0": llama_cpp.GGML_TYPE_Q8_0}[cache_type]
            kwargs["type_k"] = kwargs["type_v"] = ggml_type
        handler = None
        if slot == "vision" and self.settings.vision_mmproj is not None:
            from llama_cpp.llama_chat_format import MTMDChatHandler

            handler = MTMDChatHandler(
                clip_model_path=str(self.settings.vision_mmproj), verbose=False, use_gpu=kwargs["n_gpu_layers"] != 0
            )
            kwargs["chat_handler"] = handler
        started = time.perf_counter()
        try:
            llm = _llama_class()(**kwargs)
        except (ValueError, RuntimeError) as err:
            variable = SLOT_VARIABLES.get(slot, slot)
            raise ModelError(
                f"{variable}={path}: llama.cpp could not load it ({err}); check that it is a complete GGUF "
                "model supported by this llama-cpp-python, or lower SEL_CTX"
            ) from None
        if handler is not None:
            try:
                # Load the projector now, so a bad SEL_VISION_MMPROJ fails at load, not at someone's picture.
                handler._init_mtmd_context(llm)
            except ValueError as err:
                llm.close()
                raise ModelError(
                    f"SEL_VISION_MMPROJ={self.settings.vision_mmproj}: it does not fit SEL_VISION_MODEL ({err}); "
                    "use the mmproj file published with that vision model"
                ) from None
        self.last_load_seconds = time.perf_counter() - started
        log.info("loaded %s for slot %s in %.2fs", path.name, slot, self.last_load_seconds)
        return _Resident(path=path, llm=llm, fmt=prompt_format_for(llm))

    def _unload(self, resident: _Resident) -> None:
        self._park(resident)
        self._resident.pop(resident.path, None)
        resident.llm.close()
        resident.llm = None
        gc.collect()  # release the weights before the next model is mapped in

    def _acquire(self, slot: str) -> tuple[_Resident, float]:
        """The resident model for ``slot``, swapping if needed; returns it and the load time."""
        path = self.slots[slot]
        resident = self._resident.get(path)
        if resident is not None:
            return resident, 0.0
        if self.settings.single_backend and self._resident:
            for other in list(self._resident.values()):
                self._unload(other)
            self.swaps += 1
        resident = self._load(slot, path)
        self._resident[path] = resident
        return resident, self.last_load_seconds

    def _park(self, resident: _Resident) -> None:
        """Snapshot the conversation held in the KV cache so it can come back warm."""
        if resident.conversation is None:
            return
        snap = kvstate.save(resident.llm)
        if snap is not None:
            self._snapshots.put((str(resident.path), resident.conversation), snap)
        resident.conversation = None

    def _switch_conversation(self, resident: _Resident, conversation: str) -> bool:
        if resident.conversation == conversation:
            return False
        self._park(resident)
        resident.conversation = conversation
        snap = self._snapshots.pop((str(resident.path), conversation))
        if snap is None:
            return False
        return kvstate.restore(resident.llm, snap)

    def _count(self, resident: _Resident, plan: PromptPlan) -> int:
        return len(resident.llm.tokenize(_prompt_text(resident.fmt.render(plan)).encode("utf-8"), special=True))

    def _generate(self, job: _Job) -> None:
        if job.plan.images:
            self._generate_with_images(job)
            return
        resident, load_seconds = self._acquire(job.slot)
        llm = resident.llm
        stats = GenerationStats(job.slot, str(resident.path), job.conversation, load_seconds=load_seconds)
        self.last_stats = stats
        stats.restored_snapshot = self._switch_conversation(resident, job.conversation)

        # A reply may use at most three quarters of the context: the prompt keeps room for the
        # persona and the message being answered, however large SEL_MAX_NEW_TOKENS is.
        job.max_tokens = min(job.max_tokens, llm.n_ctx() * 3 // 4)
        budget = llm.n_ctx() - job.max_tokens - PROMPT_MARGIN
        anchor_key = (resident.path, job.conversation)
        plan, anchor = fit_turns(job.plan, lambda p: self._count(resident, p), budget, self._anchors.get(anchor_key))
        self._anchors[anchor_key] = anchor
        stats.trimmed_turns = len(job.plan.turns) - len(plan.turns)
        rendered = resident.fmt.render(plan)
        prompt = _prompt_text(rendered)
        stats.prompt_tokens = len(llm.tokenize(prompt.encode("utf-8"), special=True))
        # The persona, the notes and the message itself cannot be trimmed: if they leave no room
        # for a reply, say which setting to change (llama.cpp itself would raise a bare ValueError).
        room = llm.n_ctx() - stats.prompt_tokens - PROMPT_MARGIN
        if room < MIN_REPLY_TOKENS:
            raise ModelError(
                f"SEL_CTX={llm.n_ctx()} is too small: the persona and the message take {stats.prompt_tokens} tokens; "
                "raise SEL_CTX (4096 is a good start)"
            )

        llm.evaluated = 0
        started = time.perf_counter()
        first_at: float | None = None
        leading = True
        # One chunk is held back: when the reply is cut at max_tokens, llama-cpp-python flushes
        # text it held for a possible stop string ("\nali" of "\nalice:"), which we trim.
        pending = ""
        finish: str | None = None
        chunks = llm.create_completion(
            prompt,
            max_tokens=job.max_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            repeat_penalty=self.settings.repeat_penalty,
            stop=list(rendered.stop),
            stream=True,
        )
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
                    stats.prefilled_tokens = llm.evaluated
                stats.completion_tokens += 1
                job.produced += 1
                text = choice["text"]
                if leading:  # the transcript's "SEL:" is followed by a space the reader does not need
                    text = text.lstrip()
                    leading = not text
                if text:
                    if pending:
                        job.emit(pending)
                    pending = text
            if finish == "length" and not stats.cancelled:
                pending = trim_partial_stop(pending, rendered.stop)
            if pending and not stats.cancelled:
                job.emit(pending)
        finally:
            chunks.close()
            if first_at is not None:
                stats.decode_seconds = time.perf_counter() - first_at

    def _generate_with_images(self, job: _Job) -> None:
        """Pictures go through the model's multimodal chat handler (mtmd), one whole prompt per call."""
        resident, load_seconds = self._acquire(job.slot)
        if resident.llm.chat_handler is None:
            raise ModelError(
                f"the {job.slot} slot has no image projector; set SEL_VISION_MODEL and SEL_VISION_MMPROJ together"
            )
        self._park(resident)  # the handler evaluates its own prompt: the KV cache no longer holds a conversation
        stats = GenerationStats(job.slot, str(resident.path), job.conversation, load_seconds=load_seconds)
        self.last_stats = stats
        started = time.perf_counter()
        first_at: float | None = None
        chunks = resident.llm.create_chat_completion(
            messages=chat_messages(job.plan),
            max_tokens=job.max_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            repeat_penalty=self.settings.repeat_penalty,
            stream=True,
        )
        try:
            for chunk in chunks:
                if job.cancelled.is_set():
                    stats.cancelled = True
                    break
                text = _chat_text(chunk)
                if not text:
                    continue
                if first_at is None:
                    first_at = time.perf_counter()
                    stats.time_to_first_token = first_at - started
                stats.completion_tokens += 1
                job.produced += 1
                job.emit(text)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            if first_at is not None:
                stats.decode_seconds = time.perf_counter() - first_at


def _prompt_text(rendered: Rendered) -> str:
    """The prompt as text llama.cpp can tokenize: a lone surrogate (an undecodable byte) cannot be UTF-8 encoded."""
    return replace_undecodable(rendered.text)


def _chat_text(chunk: dict[str, Any]) -> str:
    return chunk["choices"][0].get("delta", {}).get("content") or ""


def trim_partial_stop(text: str, stops: tuple[str, ...]) -> str:
    """Drop a trailing beginning of a stop string (e.g. "\nali" of "\nalice:") from ``text``."""
    for stop in stops:
        for k in range(len(stop) - 1, 0, -1):
            if text.endswith(stop[:k]):
                return text[: len(text) - k].rstrip() if stop[:k].strip() else text
    return text


def prompt_format_for(llm: Any) -> PromptFormat:
    """The model's chat template if its GGUF has one, else the multi-user transcript."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return TranscriptFormat()

    def token_text(token_id: int) -> str:
        return llm.detokenize([token_id], special=True).decode("utf-8", errors="ignore") if token_id >= 0 else ""

    return ChatTemplateFormat(template, bos_token=token_text(llm.token_bos()), eos_token=token_text(llm.token_eos()))
