"""The composition root: SEL's parts built from Settings, and the one typed door the frontends use.

A frontend (terminal, Discord) opens one :class:`App` and talks only to it: the brain for
conversation, hearing (speech to text), speaking (text to speech, sentence by sentence),
data rights (consent, export, forget, the memory map) and status. It never reaches the
engine or the memory store itself. Everything that blocks (models, embeddings, disk) runs in a
thread here, so a frontend just awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.config import Settings, folder_error
from sel.domain import GenerationStats
from sel.errors import SelError
from sel.metrics import Metrics
from sel.model_choice import (
    SavedChoice,
    SlotModels,
    apply_saved,
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
    from sel.memory.records import Memory
    from sel.memory.store import MemoryStore
    from sel.voice.listening_consent import ListeningConsent
    from sel.voice.stt import SpeechToText, Transcript
    from sel.voice.tts import Speech, TextToSpeech

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


class App:
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
        self._stt: SpeechToText | None = None
        self._listen_consent: ListeningConsent | None = None
        self._tts: TextToSpeech | None = None
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
        self.metrics.close()
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

    # -- hearing and speaking -----------------------------------------------------------------------

    async def transcribe(self, data: bytes, *, name: str) -> Transcript:
        """What is said in an audio or video file (faster-whisper, in a thread)."""
        return await self._hearing().transcribe_async(data, name=name)

    async def hear(
        self, pcm: bytes, *, rate: int, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        """What is said in mono 16-bit PCM at ``rate`` Hz (a voice channel turn), in a thread.

        The audio is only read, never kept. ``prompt`` and ``hotwords`` help Whisper spell names
        (see SpeechToText.transcribe_samples).
        """

        def hear() -> Transcript:
            import numpy as np

            from sel.voice import audio

            samples = audio.whisper_samples(np.frombuffer(pcm, dtype=np.int16), rate)
            return self._hearing().transcribe_samples(samples, prompt=prompt, hotwords=hotwords)

        return await asyncio.to_thread(hear)

    def _hearing(self) -> SpeechToText:
        if self._stt is None:
            from sel.voice.stt import SpeechToText

            self._stt = SpeechToText(self.settings.voice)
        return self._stt

    def listens_to(self, user_id: int) -> bool:
        """Whether the person opted in to being heard in voice channels (`listen on`). Never blocks."""
        return self._listening().allows(user_id)

    async def set_listening(self, user_id: int, on: bool) -> None:
        """Record the person's voice opt-in or withdrawal (durably, in a thread)."""
        consent = self._listening()
        try:
            await asyncio.to_thread(consent.set, user_id, on)
        except OSError as err:
            raise folder_error("SEL_DATA_DIR", self.settings.data_dir, err) from None

    def _listening(self) -> ListeningConsent:
        if self._listen_consent is None:
            from sel.voice.listening_consent import ListeningConsent

            self._listen_consent = ListeningConsent.in_folder(self.settings.data_dir)
        return self._listen_consent

    async def speak(self, text: str) -> Speech:
        """``text`` as speech (Piper, in a thread); markup, code and links are not read aloud."""
        from sel.voice.speakable import speakable

        return await self._voice().speak(speakable(text))

    async def speak_sentences(self, text: str) -> AsyncIterator[Speech]:
        """``text`` as speech one sentence at a time, so playback can start after the first."""
        from sel.voice.speakable import speakable_sentences

        voice = self._voice()
        for sentence in speakable_sentences(text):
            yield await voice.speak(sentence)

    def _voice(self) -> TextToSpeech:
        if self._tts is None:
            from sel.voice.tts import TextToSpeech

            self._tts = TextToSpeech.from_settings(self.settings.voice)
        return self._tts

    # -- data rights --------------------------------------------------------------------------------

    async def has_consent(self, user_id: str) -> bool:
        """Whether the person opted in to memory (False when memory is off)."""
        if self._memory is None:
            return False
        return await asyncio.to_thread(self._memory.has_consent, user_id)

    async def set_consent(self, user_id: str, on: bool) -> None:
        """Record an opt-in or a withdrawal; withdrawal stops storing at once."""
        await asyncio.to_thread(self._require_memory().set_consent, user_id, on)

    async def set_memory_scope(self, user_id: str, preference: str) -> bool:
        """Where the person's future memories may come back: "here" (where said), "anywhere" or "dm";
        False (nothing kept) when they have not opted in."""
        return await asyncio.to_thread(self._require_memory().set_scope_preference, user_id, preference)

    async def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the person, as plain JSON data."""
        from sel.memory.export import export_user

        return await asyncio.to_thread(export_user, self._require_memory(), user_id)

    async def memory_map(self, user_id: str) -> str | None:
        """The person's memory map as SVG, or None when they have not opted in."""
        from sel.memory.svg import memory_map

        store = self._require_memory()
        if not await asyncio.to_thread(store.has_consent, user_id):
            return None
        return await asyncio.to_thread(memory_map, store, user_id)

    async def forget(self, user_id: str) -> None:
        """Erase everything about the person: memories, vectors, style profile, consent."""
        await self.brain.forget(user_id)
        if user_id.isdigit():  # Discord ids: being heard in voice is forgotten with the rest
            await self.set_listening(int(user_id), False)

    async def memory_matches(self, user_id: str, text: str, *, k: int = 10) -> list[Memory]:
        """The person's memories that match ``text`` (e.g. "my cat"), best first: the ones they may pick to forget."""
        matches = await asyncio.to_thread(self._require_memory().find, user_id, text, k=k)
        return [match.memory for match in matches]

    async def forget_memory(self, user_id: str, memory_id: str) -> Memory:
        """Erase one of the person's memories, leaving no trace; InputError when they have none with that id."""
        return await asyncio.to_thread(self._require_memory().delete, user_id, memory_id)

    def _require_memory(self) -> MemoryStore:
        if self._memory is None:
            raise MemoryOffError("memory is turned off on this SEL")
        return self._memory


class MemoryOffError(SelError):
    """A data-rights request on an SEL that runs without a memory store."""


class FactExtraction:
    """The memory store's LLM fact extraction (SEL_MEMORY_LLM_EXTRACTION=1), on the engine the app uses now."""

    def __init__(self, engine: Engine) -> None:
        self.use(engine)

    def use(self, engine: Engine) -> None:
        from sel.llm.facts import fact_extractor

        self._extract = fact_extractor(engine)

    def __call__(self, text: str) -> list[str]:
        return self._extract(text)


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
