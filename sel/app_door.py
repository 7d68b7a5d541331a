"""The App: the one typed door the frontends use (sel.app builds it from Settings).

Conversation goes to the brain; models, the owner's settings, status and the lifecycle are here;
hearing and speaking (:mod:`sel.app_voice`) and data rights (:mod:`sel.app_data_rights`) are its parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sel.app_data_rights import AppDataRights
from sel.app_voice import AppVoice
from sel.config import Settings
from sel.config_paths import folder_error
from sel.domain import GenerationStats
from sel.metrics import Metrics
from sel.model_choice import (
    SavedChoice,
    SlotModels,
    checked_engine,
    close_when_idle,
    offer_for,
    offers,
    save_choice,
    with_model,
)
from sel.owner_file import OwnerFile, watch
from sel.owner_settings import OwnerSettings, Place

if TYPE_CHECKING:
    from sel.brain.brain import Brain
    from sel.llm.engine import Engine
    from sel.memory.store import MemoryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """What `status` commands show: models, mood, memory and the last reply's speed."""

    mode: str
    mood: str
    replies: int
    slots: dict[str, Path]  # slot -> model file
    loaded: tuple[Path, ...]  # model files resident now
    gpu_layers: int
    swaps: int
    memory_on: bool
    memories: int | None  # None when memory is off
    last: GenerationStats | None
    uptime_seconds: float
    settings: str = ""  # sel.toml's state: "sel.toml", "defaults (no sel.toml)" or "last edit refused: …"
    kv_snapshot_mb: float = 0.0  # conversations' KV cache snapshots held (MB of 10**6 bytes)


class App(AppVoice, AppDataRights):
    """SEL for one frontend. Build it with :func:`open_app`; close it with :meth:`aclose`."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        memory: MemoryStore | None,
        brain: Brain,
        *,
        clock: Callable[[], float] = time.time,
        extraction: FactExtraction | None = None,
        owner_file: OwnerFile | None = None,
    ) -> None:
        self.settings = settings
        self.brain = brain
        self._engine = engine
        self._memory = memory
        self._extraction = extraction
        self._clock = clock
        self._retiring: set[asyncio.Task[None]] = set()  # engines replaced by a model switch, closing when idle
        self.started_at = clock()
        self._pruner: asyncio.Task[None] | None = None
        self._closed = False
        self._owner_file = owner_file or OwnerFile(settings.settings_path)
        self._file_mode: str | None = None  # sel.toml's own mode, applied when it changes
        self._watcher: asyncio.Task[None] | None = None
        self._apply_owner(self._owner_file.current)
        self.metrics = Metrics()  # serves nothing until the frontend starts it (SEL_METRICS_PORT)

    # -- the parts, for the CLI's benches and for tests (frontends use the methods below) ----------

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def memory_store(self) -> MemoryStore | None:
        return self._memory

    # -- status ---------------------------------------------------------------------------------

    @property
    def memory_on(self) -> bool:
        """Whether SEL has a memory store at all (people still opt in one by one)."""
        return self._memory is not None

    @property
    def last_stats(self) -> GenerationStats | None:
        """What happened in the most recent generation, or None before the first."""
        return self._engine.last_stats

    async def status(self) -> Status:
        """Models, mood, memory count, the last reply's speed and uptime."""
        engine = self._engine.status()
        brain = self.brain.status()
        memories = None
        if self._memory is not None:
            memories = int((await asyncio.to_thread(self._memory.stats))["memories"])
        return Status(
            mode=brain["mode"],
            mood=brain["mood"],
            replies=brain["replies"],
            slots={slot: Path(path) for slot, path in engine["slots"].items()},
            loaded=tuple(Path(path) for path in engine["loaded"]),
            gpu_layers=engine["gpu_layers"],
            swaps=engine["swaps"],
            memory_on=self._memory is not None,
            memories=memories,
            last=self._engine.last_stats,
            uptime_seconds=self._clock() - self.started_at,
            settings=self.settings_state,
            kv_snapshot_mb=float(engine.get("kv_snapshot_mb", 0.0)),
        )

    def describe(self) -> str:
        """Models and memory in one line: "general: a.gguf · coder: b.gguf · memory: on"."""
        return " · ".join(
            [
                f"general: {self.settings.general_model.name}",
                f"coder: {self.settings.coder_model.name}",
                f"memory: {'on' if self._memory is not None else 'off'}",
            ]
        )

    # -- choosing models -----------------------------------------------------------------------------

    async def model_choices(self) -> dict[str, SlotModels]:
        """Per switchable slot, the model it uses and the ones it could: the GGUF files in the models folder,
        or what its server lists (a server that cannot say is noted in ``problem``, not raised)."""
        return await offers(self.settings, self._engine)

    async def switch_model(self, slot: str, name: str) -> None:
        """Serve ``slot`` with ``name`` from now on, and keep that choice for the next start.

        Replies being written finish on the model they began with; the next ones use ``name``. An
        InputError says which names the slot can use; a server that cannot list its models raises
        ServerUnavailableError. The engine is rebuilt for the new choice, so the other local slots
        load their model again at their next reply.
        """
        offer = offer_for(await self.model_choices(), slot, name)
        if name != offer.current:
            settings = with_model(self.settings, slot, name)
            self._use(settings, await asyncio.to_thread(checked_engine, settings))
        try:
            await asyncio.to_thread(save_choice, self.settings.data_dir, slot, SavedChoice(name, offer.server))
        except OSError as err:  # the switch holds until SEL stops; only keeping it failed
            raise folder_error("SEL_DATA_DIR", self.settings.data_dir, err) from None
        log.info("the %s slot now uses %s", slot, name)

    def _use(self, settings: Settings, engine: Engine) -> None:
        """Hand every part the new engine; the old one closes once its replies are done."""
        old, self._engine, self.settings = self._engine, engine, settings
        self.brain.engine, self.brain.settings = engine, settings
        if self._extraction is not None:
            self._extraction.use(engine)
        task = asyncio.create_task(close_when_idle(old), name="sel-retire-engine")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # -- the owner's settings (sel.toml) ------------------------------------------------------------

    @property
    def owner_settings(self) -> OwnerSettings:
        """The sel.toml settings in effect (the last good ones when an edit was refused)."""
        return self._owner_file.current

    def place(self, guild_id: str = "", channel_id: str = "") -> Place:
        """sel.toml's overrides in effect in a channel of a server ("" for a DM or the terminal)."""
        return self._owner_file.current.place(guild_id, channel_id)

    @property
    def settings_state(self) -> str:
        """For `status`: which settings file is in effect, or why its last edit was refused."""
        file = self._owner_file
        if file.refused is not None:
            return f"last edit refused: {file.refused}"
        return str(file.path) if file.path.exists() else f"defaults (no {file.path})"

    async def reload_settings(self) -> str | None:
        """Read sel.toml now (`/sel reload`): None when its settings are in effect, else why they were refused."""
        refused = await asyncio.to_thread(self._owner_file.reload)
        if refused is None:
            self._apply_owner(self._owner_file.current)
        return refused

    async def set_owner_setting(self, keys: tuple[str, ...], value: object) -> None:
        """Write one sel.toml key (None removes it) and use the result now (`/sel persona`, `/sel mode`)."""
        self._apply_owner(await asyncio.to_thread(self._owner_file.edit, keys, value))

    def _apply_owner(self, owner: OwnerSettings) -> None:
        self.brain.owner = owner
        if owner.mode is not None and owner.mode != self._file_mode:
            # The file's mode replaces SEL_MODE; `/mode` in a DM or the terminal may change it until the next edit.
            self.brain.set_mode(owner.mode)
        self._file_mode = owner.mode

    # -- lifecycle ------------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Get the general slot ready: a local model loads and generates one token; a server is asked for it.

        A model that cannot load, or a server that is down or lacks the model, raises a SelError
        here, at start-up, instead of at someone's first message; and that first reply does not
        pay for loading the model.
        """
        await self._engine.warm_up("general")

    def start_background(self) -> None:
        """Periodic work that needs a running loop: pruning expired memories, watching sel.toml for edits."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(watch(self._owner_file, self._apply_owner), name="sel-settings-watch")
        if self._memory is not None and self._pruner is None:
            from sel.memory.pruner import run_pruner

            self._pruner = asyncio.create_task(run_pruner(self._memory))

    async def aclose(self) -> None:
        """Stop background work, save the mood, free the models and close the memory store (once)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self.metrics.close)  # waits up to half a second for its server's poll loop
        if self._watcher is not None:
            self._watcher.cancel()
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        try:
            await self.brain.save()
        except Exception:
            log.exception("could not save SEL's state on shutdown")
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await self._engine.aclose()  # frees the models (in a thread) and closes server connections
        if self._memory is not None:
            await asyncio.to_thread(self._memory.close)

    # -- data rights (the rest are in AppDataRights) -------------------------------------------------

    async def forget(self, user_id: str) -> None:
        """Erase everything about the person: memories, vectors, style profile, consent."""
        await self.brain.forget(user_id)
        if user_id.isdigit():  # Discord ids: being heard in voice is forgotten with the rest
            await self.set_listening(int(user_id), False)


class FactExtraction:
    """The memory store's LLM fact extraction (SEL_MEMORY_LLM_EXTRACTION=1), on the engine the app uses now."""

    def __init__(self, engine: Engine) -> None:
        self.use(engine)

    def use(self, engine: Engine) -> None:
        from sel.llm.facts import fact_extractor

        self._extract = fact_extractor(engine)

    def __call__(self, text: str) -> list[str]:
        return self._extract(text)
