"""Assembles SEL's parts for a frontend: the engine, the memory store and the brain.

Frontends (terminal, Discord) build one Runtime and talk to ``runtime.brain``; they close
it when they stop, which cancels nothing itself but frees the models and flushes state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sel.config import Settings
from sel.errors import ConfigError, SelError

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Any  # sel.llm.engine.Engine
    memory: Any | None  # sel.memory.store.MemoryStore
    brain: Any  # sel.brain.brain.Brain
    started_at: float = field(default_factory=time.time)
    _pruner: asyncio.Task[None] | None = None
    _stt: Any = None
    _closed: bool = False
    _tts: Any = None

    def speech_to_text(self) -> Any:
        """The faster-whisper transcriber, created on first use (its model loads on first call)."""
        if self._stt is None:
            from sel.voice.stt import SpeechToText

            self._stt = SpeechToText(self.settings)
        return self._stt

    def text_to_speech(self) -> Any:
        """The Piper voice, created on first use."""
        if self._tts is None:
            from sel.voice.tts import TextToSpeech

            self._tts = TextToSpeech.from_settings(self.settings)
        return self._tts

    def warm_up(self) -> None:
        """Load the general model and generate one token with it (blocking: run it in a thread).

        A model that cannot load raises ModelError here, at start-up, instead of at someone's
        first message; and that first reply does not pay for loading the model.
        """
        self.engine.run_blocking(_one_token, "general")

    def summary(self) -> str:
        """Models, memory and voice in one line, e.g. "general: a.gguf · coder: b.gguf · memory: on · voice: on".

        Blocking (it looks for libopus): run it in a thread from the event loop.
        """
        from sel.voice.deps import voice_support

        parts = [
            f"general: {self.settings.general_model.name}",
            f"coder: {self.settings.coder_model.name}",
            f"memory: {'on' if self.memory is not None else 'off'}",
            f"voice: {voice_state(voice_support())}",
        ]
        return " · ".join(parts)

    def start_background(self) -> None:
        """Periodic work that needs a running loop: pruning expired memories."""
        if self.memory is not None and self._pruner is None:
            from sel.memory.pruner import run_pruner

            self._pruner = asyncio.create_task(run_pruner(self.memory))

    async def aclose(self) -> None:
        """Stop background work, save the mood, free the models and close the memory store (once)."""
        if self._closed:
            return
        self._closed = True
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        try:
            await self.brain.save()
        except Exception:
            log.exception("could not save SEL's state on shutdown")
        await asyncio.to_thread(self.engine.close)
        if self.memory is not None:
            await asyncio.to_thread(self.memory.close)


def voice_state(missing: list[str]) -> str:
    """The voice state for humans: "on", or e.g. "off (libopus, PyNaCl missing)" from voice_support()'s lines."""
    if not missing:
        return "on"
    return f"off ({', '.join(line.split(':', 1)[0] for line in missing)} missing)"


def _one_token(llm: Any) -> None:
    # One greedy token runs a full forward pass: the weights are paged in and llama.cpp's compute
    # buffers exist. Greedy, so the warm-up draws nothing from the sampler's random state.
    llm.create_completion(" ", max_tokens=1, temperature=0.0)


def open_runtime(settings: Settings, *, with_memory: bool = True, clock: Callable[[], float] = time.time) -> Runtime:
    """Build the engine, memory store and brain from ``settings`` (models load lazily)."""
    from sel.llm.engine import Engine

    engine = Engine(settings)
    engine.check_models()
    try:
        return _assemble(settings, engine, with_memory=with_memory, clock=clock)
    except SelError:
        engine.close()  # e.g. the memory store is in use by a running bot
        raise
    except OSError as err:
        engine.close()
        where = err.filename or settings.data_dir
        raise ConfigError(
            f"SEL_DATA_DIR={settings.data_dir}: cannot use {where} ({err.strerror}); "
            "fix its permissions or point SEL_DATA_DIR at a writable folder"
        ) from None


def _assemble(settings: Settings, engine: Any, *, with_memory: bool, clock: Callable[[], float]) -> Runtime:
    from sel.brain.brain import Brain

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    memory = None
    if with_memory:
        from sel.memory.store import MemoryStore

        llm_extract = None
        if settings.memory_llm_extraction:
            from sel.llm.facts import fact_extractor

            llm_extract = fact_extractor(engine)
        memory = MemoryStore.open(settings.data_dir, settings.embed_model, clock=clock, llm_extract=llm_extract)
    tz = None
    if settings.timezone:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(settings.timezone)
    try:
        brain = Brain(settings, engine, memory, clock=clock, tz=tz)
    except OSError:
        if memory is not None:
            memory.close()  # releases its lock for the next attempt
        raise
    return Runtime(settings=settings, engine=engine, memory=memory, brain=brain)
