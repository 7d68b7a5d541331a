"""Where each channel's conversation starts after `/sel reset`, kept across restarts.

After a restart SEL re-reads a channel's recent messages from Discord on first contact; without
the saved start, `reset` would be undone by that. The file is small JSON in SEL_DATA_DIR
(``{"channel id": last message id before the reset}``), written atomically, read once at start-up.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sel.atomic_files import write_atomic

log = logging.getLogger(__name__)

FILE_NAME = "discord-resets.json"
MAX_CHANNELS = 10_000  # the oldest resets (smallest ids) are dropped past this


def load_starts(data_dir: Path) -> dict[int, int]:
    """The saved starts; an unreadable or damaged file is logged and treated as empty."""
    path = data_dir / FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("ignoring %s (%s): earlier `reset`s no longer hold", path, err)
        return {}
    if not isinstance(raw, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return {}
    return {int(k): v for k, v in raw.items() if k.isdigit() and isinstance(v, int)}


def save_starts(data_dir: Path, starts: dict[int, int]) -> None:
    """Write every start (blocking: call it in a thread)."""
    newest = sorted(starts.items(), key=lambda item: item[1])[-MAX_CHANNELS:]
    data_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(data_dir / FILE_NAME, json.dumps({str(k): v for k, v in newest}).encode("utf-8"))
