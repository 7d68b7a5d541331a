"""Which GGUF models are loaded, and which conversation each one's KV cache holds.

Slots name roles ("general", "coder", optionally "vision"); several slots may point at one
file. In single-backend mode (SEL_SINGLE_BACKEND=1) at most one model is resident: asking
for another slot's file closes the current model before loading the next. When a model
moves from one conversation to another, the first is parked as a KV snapshot (kvstate), so
it comes back warm. Everything here runs on the engine's worker thread.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sel.config_paths import check_gguf
from sel.config_slices import LlmSettings
from sel.errors import ModelError
from sel.llm import kvstate
from sel.llm.prompt import ChatTemplateFormat, PromptFormat, TranscriptFormat

log = logging.getLogger(__name__)

SLOT_VARIABLES = {"general": "SEL_GENERAL_MODEL", "coder": "SEL_CODER_MODEL", "vision": "SEL_VISION_MODEL"}


@dataclass
class Resident:
    """A loaded model and the conversation its KV cache currently holds."""

    path: Path
    llm: Any  # llama_cpp.Llama (CountingLlama)
    fmt: PromptFormat
    conversation: str | None = None


class Residency:
    """Loads, swaps and frees the slots' models; parks and restores conversations' KV state."""

    def __init__(self, settings: LlmSettings, slots: Mapping[str, Path]) -> None:
        self.settings = settings
        self.slots = dict(slots)
        self.swaps = 0
        self.last_load_seconds = 0.0
        self._resident: dict[Path, Resident] = {}
        self.snapshots = kvstate.SnapshotCache(settings.kv_cache_mb * 1024 * 1024)

    @property
    def loaded(self) -> list[Path]:
        return [resident.path for resident in self._resident.values()]

    def gpu_layers(self) -> int:
        if self.settings.gpu_layers is not None:
            return self.settings.gpu_layers
        return -1 if gpu_offload_supported() else 0

    def acquire(self, slot: str) -> tuple[Resident, float]:
        """The resident model for ``slot``, swapping if needed; returns it and the load time."""
        path = self.slots[slot]
        resident = self._resident.get(path)
        if resident is not None:
            return resident, 0.0
        if self.settings.single_backend and self._resident:
            self.unload_all()
            self.swaps += 1
        started = time.perf_counter()
        resident = load_model(self.settings, slot, path, self.gpu_layers())
        self.last_load_seconds = time.perf_counter() - started
        log.info("loaded %s for slot %s in %.2fs", path.name, slot, self.last_load_seconds)
        self._resident[path] = resident
        return resident, self.last_load_seconds

    def resident_for(self, slot: str | None) -> Resident:
        """``slot``'s model; for None whichever model is resident (no swap), else the general one (or the first)."""
        if slot is None and self._resident:
            return next(iter(self._resident.values()))
        if slot is None:
            slot = "general" if "general" in self.slots else next(iter(self.slots))
        return self.acquire(slot)[0]

    def park(self, resident: Resident) -> None:
        """Snapshot the conversation held in the KV cache so it can come back warm."""
        if resident.conversation is None:
            return
        snap = kvstate.save(resident.llm)
        if snap is not None:
            self.snapshots.put((str(resident.path), resident.conversation), snap)
        resident.conversation = None

    def switch_conversation(self, resident: Resident, conversation: str) -> bool:
        """Make ``conversation`` the one in the KV cache; True when its snapshot was restored."""
        if resident.conversation == conversation:
            return False
        self.park(resident)
        resident.conversation = conversation
        snap = self.snapshots.pop((str(resident.path), conversation))
        if snap is None:
            return False
        return kvstate.restore(resident.llm, snap)

    def unload_all(self) -> None:
        for resident in list(self._resident.values()):
            self.park(resident)
            self._resident.pop(resident.path, None)
            resident.llm.close()
            resident.llm = None
        gc.collect()  # release the weights before the next model is mapped in


def load_model(settings: LlmSettings, slot: str, path: Path, gpu_layers: int) -> Resident:
    """Load ``path`` for ``slot`` with llama.cpp; a file it cannot load is a one-line ModelError."""
    variable = SLOT_VARIABLES.get(slot, slot)
    check_gguf(variable, path)
    route_llama_logs()
    kwargs = _llama_kwargs(settings, path, gpu_layers)
    handler = None
    if slot == "vision" and settings.vision_mmproj is not None:
        from llama_cpp.llama_chat_format import MTMDChatHandler

        handler = MTMDChatHandler(clip_model_path=str(settings.vision_mmproj), verbose=False, use_gpu=gpu_layers != 0)
        kwargs["chat_handler"] = handler
    try:
        llm = _llama_class()(**kwargs)
    except (ValueError, RuntimeError) as err:
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
                f"SEL_VISION_MMPROJ={settings.vision_mmproj}: it does not fit SEL_VISION_MODEL ({err}); "
                "use the mmproj file published with that vision model"
            ) from None
    return Resident(path=path, llm=llm, fmt=prompt_format_for(llm))


def _llama_kwargs(settings: LlmSettings, path: Path, gpu_layers: int) -> dict[str, Any]:
    import llama_cpp

    kwargs: dict[str, Any] = {
        "model_path": str(path),
        "n_ctx": settings.ctx,
        "n_threads": settings.threads,
        "n_threads_batch": settings.threads,
        "n_gpu_layers": gpu_layers,
        "flash_attn": settings.flash_attn,
        "verbose": False,
    }
    if settings.seed >= 0:
        kwargs["seed"] = settings.seed
    cache_type = settings.kv_cache_type
    if cache_type is not None:
        ggml_type = {"q4_0": llama_cpp.GGML_TYPE_Q4_0, "q8_0": llama_cpp.GGML_TYPE_Q8_0}[cache_type]
        kwargs["type_k"] = kwargs["type_v"] = ggml_type
    return kwargs


def prompt_format_for(llm: Any) -> PromptFormat:
    """The model's chat template if its GGUF has one, else the multi-user transcript."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return TranscriptFormat()

    def token_text(token_id: int) -> str:
        return llm.detokenize([token_id], special=True).decode("utf-8", errors="ignore") if token_id >= 0 else ""

    return ChatTemplateFormat(template, bos_token=token_text(llm.token_bos()), eos_token=token_text(llm.token_eos()))


@functools.cache
def _llama_class() -> type:
    """llama_cpp.Llama, counting evaluated tokens so KV reuse can be measured, not guessed."""
    from llama_cpp import Llama

    class CountingLlama(Llama):
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
