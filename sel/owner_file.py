"""The owner's sel.toml on disk: loaded at start, re-read when it changes, edited by `/sel persona` and `/sel mode`.

Changes are noticed by polling the file's modification time and size every
:data:`POLL_SECONDS` (one ``stat`` call, in a thread). Polling needs no dependency and works
where file-system events do not reach (Docker bind mounts and volumes, network shares, editors
that replace the file). A bad edit is refused: the last good settings stay in effect and the
reason is kept for `/sel status` until the file is fixed.

Edits go through tomlkit, which keeps the owner's comments and layout, are validated before they
are written, and are written atomically.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sel.atomic_files import write_atomic
from sel.errors import ConfigError
from sel.owner_settings import OwnerSettings, parse_owner_settings

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
Stamp = tuple[int, int] | None  # (modification time in ns, size), None while the file does not exist


class OwnerFile:
    """sel.toml and the settings last read from it without an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current = OwnerSettings()
        self.refused: str | None = None  # why the file's present text is not in effect
        self._stamp: Stamp = None
        self._lock = threading.Lock()  # the poller's thread and an edit's thread take turns

    @property
    def label(self) -> str:
        return self.path.name

    def load(self) -> OwnerSettings:
        """Read the file at start-up: no file is SEL's defaults; a bad file raises (SEL does not start)."""
        with self._lock:
            self._stamp = _stamp_of(self.path)
            if self._stamp is not None:
                self.current = parse_owner_settings(self._read(), self.label)
            return self.current

    def changed(self) -> bool:
        """Whether the file's modification time or size moved since it was last read."""
        return _stamp_of(self.path) != self._stamp

    def reload(self) -> str | None:
        """Read the file now; keep the last good settings when it is bad. Returns the refusal, or None."""
        with self._lock:
            self._stamp = _stamp_of(self.path)
            try:
                self.current = parse_owner_settings(self._read(), self.label) if self._stamp else OwnerSettings()
            except ConfigError as err:
                if str(err) != self.refused:
                    log.warning("%s: edit refused, the last good settings stay: %s", self.path, err)
                self.refused = str(err)
                return self.refused
            if self.refused is not None:
                log.warning("%s: fixed; its settings are in effect again", self.path)
            self.refused = None
            return None

    def edit(self, keys: tuple[str, ...], value: Any) -> OwnerSettings:
        """Set (or with None, remove) the key at ``keys`` and write the file; ConfigError when that cannot be."""
        with self._lock:
            text = self._read() if self.path.exists() else ""
            parse_owner_settings(text, self.label)  # a bad file is the owner's unfinished edit: never write over it
            new_text = edited_toml(text, keys, value)
            settings = parse_owner_settings(new_text, self.label)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, new_text.encode("utf-8"))
            except OSError as err:
                raise ConfigError(
                    f"cannot write {self.path} ({err.strerror or err}); fix its permissions or SEL_SETTINGS_FILE"
                ) from None
            self._stamp = _stamp_of(self.path)
            self.current = settings
            return settings

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read {self.path} ({err}); fix the file or SEL_SETTINGS_FILE") from None


async def watch(file: OwnerFile, apply: Callable[[OwnerSettings], None], interval: float = POLL_SECONDS) -> None:
    """Until cancelled: when ``file`` changes, re-read it and hand good settings to ``apply``."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(file.changed) and await asyncio.to_thread(file.reload) is None:
                apply(file.current)
        except Exception:
            log.exception("watching %s failed", file.path)


def edited_toml(text: str, keys: tuple[str, ...], value: Any) -> str:
    """``text`` with the key at ``keys`` set to ``value`` (removed for None), comments and layout kept."""
    import tomlkit

    doc = tomlkit.parse(text)
    table: Any = doc
    for key in keys[:-1]:
        if key not in table:
            table[key] = tomlkit.table(is_super_table=True)
        table = table[key]
    if value is None:
        table.pop(keys[-1], None)
    elif isinstance(value, str) and "\n" in value:
        table[keys[-1]] = tomlkit.string(value, multiline=True)
    else:
        table[keys[-1]] = value
    return tomlkit.dumps(doc)


def _stamp_of(path: Path) -> Stamp:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
