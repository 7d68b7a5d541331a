"""What Discord voice channels need that may be missing here, each with its fix.

Text-to-speech and transcription work without any of these; only joining a voice
channel needs them (PyNaCl and davey for encryption, libopus to encode speech). This module
imports discord only inside a function, so `sel doctor` can use it where discord.py is missing.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import logging

log = logging.getLogger(__name__)

FIX_PYNACL = "PyNaCl: .venv/bin/pip install 'discord.py[voice]' (voice encryption)"
FIX_DAVEY = "davey: .venv/bin/pip install 'discord.py[voice]' (Discord's end-to-end voice encryption, DAVE)"
FIX_OPUS = "libopus: apt-get install libopus0 (macOS: brew install opus)"
FIX_DISCORD = "discord.py: .venv/bin/pip install 'discord.py[voice]'"


def voice_support() -> list[str]:
    """What is missing for Discord voice, one line each with its fix; empty when voice can work."""
    return missing_voice_parts(
        has_discord=_importable("discord"),
        has_pynacl=_importable("nacl"),
        has_davey=_importable("davey"),
        opus_problem=_opus_problem(),
    )


def missing_voice_parts(*, has_discord: bool, has_pynacl: bool, has_davey: bool, opus_problem: str | None) -> list[str]:
    """The missing parts, given what was found; ``opus_problem`` is None when libopus loads."""
    missing = []
    if not has_discord:
        missing.append(FIX_DISCORD)
    if not has_pynacl:
        missing.append(FIX_PYNACL)
    if not has_davey:
        missing.append(FIX_DAVEY)
    if opus_problem is not None:
        missing.append(f"{FIX_OPUS}; {opus_problem}" if opus_problem else FIX_OPUS)
    return missing


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _opus_problem() -> str | None:
    """None if libopus is loaded or loadable; "" if it is not installed; otherwise why it failed to load."""
    try:
        import discord.opus
    except ImportError:
        # discord.py itself is missing and reported separately; libopus can still be looked for.
        return None if ctypes.util.find_library("opus") else ""
    if discord.opus.is_loaded():
        return None
    name = ctypes.util.find_library("opus")
    if name is None:
        return ""
    try:
        # Loading now is what discord.py would do on the first voice connection anyway.
        discord.opus.load_opus(name)
    except OSError as err:
        log.warning("libopus %s was found but did not load: %s", name, err)
        return f"{name} is installed but did not load ({err})"
    return None


def voice_state(missing: list[str]) -> str:
    """The voice state for humans: "on", or e.g. "off (libopus, PyNaCl missing)" from voice_support()'s lines."""
    if not missing:
        return "on"
    return f"off ({', '.join(line.split(':', 1)[0] for line in missing)} missing)"
