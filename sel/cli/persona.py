"""`sel persona import CARD.json`, and the effective settings of one place for `sel config --server/--channel`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sel.config import Settings
from sel.errors import InputError

MAX_CARD_BYTES = 5_000_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `persona import`."""
    persona = subparsers.add_parser("persona", help="the owner's persona in sel.toml: import a character card")
    actions = persona.add_subparsers(dest="persona_command", metavar="ACTION", required=True)
    card = actions.add_parser("import", help="import a TavernAI/SillyTavern character card (JSON) as the persona")
    card.add_argument("card", type=Path, help="the card's JSON file (V1, or V2/V3)")
    card.add_argument("--server", help="only in this server (its Discord id)")
    card.add_argument("--channel", help="only in this channel of --server (its Discord id)")
    card.set_defaults(func=import_command)


def import_command(args: argparse.Namespace, settings: Settings) -> int:
    """Write the card's persona (and, for the whole of SEL, its name) into sel.toml; a running SEL picks it up."""
    from sel.character_card import read_card
    from sel.owner_file import OwnerFile

    keys = _place_keys(args.server, args.channel)
    character = read_card(_card_bytes(args.card), args.card.name)
    file = OwnerFile(settings.settings_path)
    file.edit((*keys, "persona"), character.persona)
    if not keys:
        file.edit(("name",), character.name)
    where = "everywhere" if not keys else ("in channel " + args.channel if args.channel else "in server " + args.server)
    named = f"; SEL now answers to {character.name}" if not keys else f" (the name stays {file.current.name})"
    print(f"imported {character.name} into {file.path}: persona of {len(character.persona)} characters {where}{named}")
    return 0


def place_view(settings: Settings, server: str | None, channel: str | None) -> dict[str, Any]:
    """What SEL uses in ``channel`` of ``server``: sel.toml's overrides over `.env`, each value resolved."""
    from sel.brain.modes import get_mode
    from sel.owner_file import OwnerFile

    _place_keys(server, channel)  # checks the ids
    file = OwnerFile(settings.settings_path)
    rules = file.load()
    place = rules.place(server or "", channel or "")
    mode = get_mode(place.mode or rules.mode or settings.mode)
    sampling = rules.sampling(mode.name).over(
        temperature=settings.temperature, top_p=settings.top_p, repeat_penalty=settings.repeat_penalty
    )
    return {
        "settings_file": str(file.path) + ("" if file.path.exists() else " (absent: defaults)"),
        "server": server or "(any)",
        "channel": channel or "(any)",
        "name": rules.name,
        "persona": _shown(place.persona) if place.persona is not None else "(SEL's built-in persona)",
        "mode": mode.name,
        "reply_threshold": place.reply_threshold if place.reply_threshold is not None else mode.silence_threshold,
        "checkins": settings.checkins if place.checkins is None else place.checkins,
        "spoken_replies": settings.tts_default if place.spoken_replies is None else place.spoken_replies,
        "memory": place.memory is not False,
        "allowed_channels": sorted(place.allowed_channels) if place.allowed_channels is not None else "(all)",
        **sampling,
    }


def _shown(persona: str) -> str:
    """A persona on one line, cut after 160 characters (the file has it whole)."""
    line = " / ".join(part.strip() for part in persona.splitlines() if part.strip())
    return line if len(line) <= 160 else f"{line[:159]}… ({len(persona)} characters)"


def _place_keys(server: str | None, channel: str | None) -> tuple[str, ...]:
    """sel.toml's table for a server (and channel); InputError for an id that is not a number."""
    if channel and not server:
        raise InputError("--channel needs --server: give the channel's server id too")
    for option, value in (("--server", server), ("--channel", channel)):
        if value is not None and not value.isdigit():
            raise InputError(f"{option} {value!r} is not a Discord id; use the number Discord shows (Copy ID)")
    if not server:
        return ()
    return ("servers", server, "channels", channel) if channel else ("servers", server)


def _card_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise InputError(f"{path}: larger than {MAX_CARD_BYTES // 1_000_000} MB; a character card is far smaller")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; give the path of the card's JSON file") from None
    except OSError as err:
        reason = err.strerror or err
        raise InputError(f"{path}: cannot be read ({reason}); check the path and its permissions") from None
