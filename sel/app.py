"""The composition root: SEL's parts built from Settings, and the one typed door the frontends use.

A frontend (terminal, Discord) opens one :class:`App` and talks only to it: the brain for
conversation, hearing (speech to text), speaking (text to speech, sentence by sentence),
data rights (consent, export, forget, the memory map) and status. It never reaches the
engine or the memory store itself. Everything that blocks (models, embeddings, disk) runs in a
thread here, so a frontend just awaits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import tzinfo
from typing import TYPE_CHECKING

from sel.app_door import App, FactExtraction
from sel.config import Settings
from sel.config_paths import folder_error
from sel.errors import SelError
from sel.model_choice import apply_saved, checked_engine
from sel.owner_file import OwnerFile

if TYPE_CHECKING:
    from sel.llm.engine import Engine
    from sel.memory.store import MemoryStore

log = logging.getLogger(__name__)


def open_app(settings: Settings, *, with_memory: bool = True, clock: Callable[[], float] = time.time) -> App:
    """Build the engine, memory store and brain from ``settings`` (models load lazily).

    The models the owner chose at run time (`/sel model`) are used over the ones in .env; a saved
    choice that no longer fits is logged as a warning and .env's model is used.
    """
    settings, warnings = apply_saved(settings)
    for warning in warnings:
        log.warning("%s", warning)
    owner_file = OwnerFile(settings.settings_path)
    owner_file.load()  # a bad sel.toml stops start-up with one line, like a bad .env
    engine = checked_engine(settings)
    try:
        return _assemble(settings, engine, with_memory=with_memory, clock=clock, owner_file=owner_file)
    except SelError:
        engine.close()  # e.g. the memory store is in use by a running bot
        raise
    except OSError as err:
        engine.close()
        raise folder_error("SEL_DATA_DIR", settings.data_dir, err) from None


def open_memory(settings: Settings) -> MemoryStore:
    """The memory store alone, for the owner's `sel memory` commands (locked while open)."""
    from sel.memory.store import MemoryStore

    try:
        return MemoryStore.open(settings.data_dir, settings.embed_model, tz=owner_zone(settings))
    except OSError as err:
        raise folder_error("SEL_DATA_DIR", settings.data_dir, err) from None


def _assemble(
    settings: Settings,
    engine: Engine,
    *,
    with_memory: bool,
    clock: Callable[[], float],
    owner_file: OwnerFile | None = None,
) -> App:
    from sel.brain.brain import Brain

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    extraction = FactExtraction(engine) if with_memory and settings.memory_llm_extraction else None
    memory = _open_memory_for_chat(settings, extraction, clock) if with_memory else None
    tz = owner_zone(settings)
    try:
        brain = Brain(settings, engine, memory, clock=clock, tz=tz)
    except OSError:
        if memory is not None:
            memory.close()  # releases its lock for the next attempt
        raise
    return App(settings, engine, memory, brain, clock=clock, extraction=extraction, owner_file=owner_file)


def _open_memory_for_chat(
    settings: Settings, extraction: FactExtraction | None, clock: Callable[[], float]
) -> MemoryStore:
    from sel.memory.store import MemoryStore

    return MemoryStore.open(
        settings.data_dir, settings.embed_model, clock=clock, llm_extract=extraction, tz=owner_zone(settings)
    )


def owner_zone(settings: Settings) -> tzinfo | None:
    """SEL_TIMEZONE as a time zone; None means the machine's local time."""
    if not settings.timezone:
        return None
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.timezone)
