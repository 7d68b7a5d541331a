"""Which model each slot uses when the owner picks one while SEL runs (`/sel model`), kept across restarts.

A choice is a GGUF file in the models folder for a local slot, or a model's name on the slot's server
for a remote one. It is saved atomically in SEL_DATA_DIR/models.json and applied over .env at
start-up. A saved choice that no longer fits (the file is gone, the slot moved to another server or
back to a local file) is dropped with a one-line warning, and the slot uses what .env says.

A local vision model is not switched here: it comes with its projector file, so both are set in .env.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.atomic_files import write_atomic
from sel.config import SLOTS, Settings
from sel.errors import InputError, ServerUnavailableError

if TYPE_CHECKING:
    from sel.llm.engine import Engine

log = logging.getLogger(__name__)

FILE_NAME = "models.json"
LOCAL_SWITCHABLE = ("general", "coder")
IDLE_POLL = 0.2  # seconds between looks at whether a replaced engine has finished its replies


@dataclass(frozen=True)
class SlotModels:
    """What one slot uses now and what it could use instead."""

    slot: str
    current: str
    choices: tuple[str, ...]
    server: str | None = None  # the server's base URL; None: GGUF files in the models folder
    problem: ServerUnavailableError | None = None  # the server could not list its models


@dataclass(frozen=True)
class SavedChoice:
    """One slot's choice: the model, and where it lives (a server's base URL, or None for the models folder)."""

    model: str
    server: str | None = None


def switchable_slots(settings: Settings) -> list[str]:
    """The slots whose model can be chosen at run time: every remote slot, and the local general and coder."""
    remote = settings.remote_slots()
    return [slot for slot in SLOTS if slot in remote or slot in LOCAL_SWITCHABLE]


def server_of(settings: Settings, slot: str) -> str | None:
    """The base URL of the server that serves ``slot``, or None when it runs in-process."""
    remote = settings.remote_slots().get(slot)
    return None if remote is None else remote.base_url


def current_model(settings: Settings, slot: str) -> str:
    """What ``slot`` uses now: the model's name on its server, or its GGUF file's name."""
    remote = settings.remote_slots().get(slot)
    if remote is not None:
        return remote.model
    return Path(getattr(settings, f"{slot}_model")).name


def local_models(models_dir: Path) -> list[str]:
    """The GGUF files in the models folder a local slot can use (vision projectors left out), by name."""
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.glob("*.gguf") if p.is_file() and "mmproj" not in p.name.lower())


def with_model(settings: Settings, slot: str, model: str) -> Settings:
    """``settings`` with ``slot`` using ``model`` (a name on its server, or a file in the models folder)."""
    changes: dict[str, Any] = {f"{slot}_model": settings.models_dir / model}
    if server_of(settings, slot) is not None:
        changes = {
            f"{slot}_model": Path(model),  # shown by `sel config`; the exact name is in the RemoteSlot
            "remote": tuple(dataclasses.replace(r, model=model) if r.slot == slot else r for r in settings.remote),
        }
    return dataclasses.replace(settings, **changes)


async def offers(settings: Settings, engine: Engine) -> dict[str, SlotModels]:
    """Per switchable slot, the model it uses and the ones it could: the GGUF files in the models folder,
    or what its server lists (a server that cannot say is noted in ``problem``, not raised)."""
    return {slot: await _slot_models(settings, engine, slot) for slot in switchable_slots(settings)}


async def _slot_models(settings: Settings, engine: Engine, slot: str) -> SlotModels:
    current, server = current_model(settings, slot), server_of(settings, slot)
    if server is None:
        return SlotModels(slot, current, tuple(await asyncio.to_thread(local_models, settings.models_dir)))
    assert engine.remote is not None  # a slot with a server URL is served by the HTTP engine
    try:
        names = await engine.remote.models(slot)
    except ServerUnavailableError as err:
        return SlotModels(slot, current, (), server, problem=err)
    return SlotModels(slot, current, tuple(names), server)


def offer_for(offers: dict[str, SlotModels], slot: str, name: str) -> SlotModels:
    """``slot``'s offer when ``name`` is on it; otherwise an InputError saying what is (or the server's error)."""
    offer = offers.get(slot)
    if offer is None:
        raise InputError(f"there is no {slot!r} slot to switch; choose one of: {', '.join(offers)}")
    if offer.problem is not None:
        raise offer.problem
    if name not in offer.choices:
        where = "its server lists" if offer.server else "is in the models folder"
        raise InputError(
            f"no model named {name!r} {where}; the {slot} slot can use: {', '.join(offer.choices) or 'none'}"
        )
    return offer


def checked_engine(settings: Settings) -> Engine:
    """The engine for ``settings``, its local model files checked (ModelError for one that is not a GGUF)."""
    from sel.llm.engine import Engine

    engine = Engine(settings.llm)
    engine.check_models()
    return engine


async def close_when_idle(engine: Engine) -> None:
    """Close an engine the app no longer uses, once the replies it is still writing (or queued for) are done."""
    while engine.limit.running or engine.limit.waiting:
        await asyncio.sleep(IDLE_POLL)
    await engine.aclose()


def load_choices(data_dir: Path) -> dict[str, SavedChoice]:
    """The saved choices by slot; a missing or unreadable file is none, a damaged one is none with a warning."""
    path = data_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        slots = data["slots"]
        return {slot: SavedChoice(str(c["model"]), c.get("server")) for slot, c in slots.items() if slot in SLOTS}
    except OSError:  # no file yet; a data folder SEL cannot use is reported where the folder is opened
        return {}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("%s is damaged (%s); the models in .env are used", path, err)
        return {}


def save_choice(data_dir: Path, slot: str, choice: SavedChoice) -> None:
    """Record ``slot``'s choice, keeping the others (an atomic rewrite of models.json)."""
    choices = {**load_choices(data_dir), slot: choice}
    data = {"slots": {name: dataclasses.asdict(c) for name, c in sorted(choices.items())}}
    data_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(data_dir / FILE_NAME, (json.dumps(data, indent=2) + "\n").encode())


def apply_saved(settings: Settings) -> tuple[Settings, list[str]]:
    """``settings`` with the saved choices that still fit, and one warning line per choice that does not."""
    warnings = []
    for slot, choice in load_choices(settings.data_dir).items():
        problem = _misfit(settings, slot, choice)
        if problem:
            warnings.append(f"{settings.data_dir / FILE_NAME}: the {slot} slot's saved model {problem}")
        else:
            settings = with_model(settings, slot, choice.model)
    return settings, warnings


def _misfit(settings: Settings, slot: str, choice: SavedChoice) -> str:
    """Why a saved choice no longer applies, or "" when it does."""
    variable = f"SEL_{slot.upper()}_MODEL"
    server = server_of(settings, slot)
    if slot not in switchable_slots(settings):
        return f"{choice.model} is for a slot that is not switched at run time; using {variable} from .env"
    if choice.server != server:
        now = f"on {server}" if server else "a local GGUF file"
        return f"{choice.model} was chosen for another server; the slot is now {now}: using {variable} from .env"
    if server is None and not (settings.models_dir / choice.model).is_file():
        return f"{choice.model} is no longer in {settings.models_dir}; using {variable} from .env"
    return ""
