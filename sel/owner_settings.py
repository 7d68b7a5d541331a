"""What the owner tunes while SEL runs, from sel.toml: name, persona, per-place overrides, sampling, access.

`.env` keeps secrets and machine paths; sel.toml keeps what an owner changes on a running SEL.
:func:`parse_owner_settings` validates the whole file at once and raises one
:class:`~sel.owner_toml.SettingsFileError` naming the line and the key, e.g.
``sel.toml line 12: servers."123".mode: 'happyy' is not a mode; use one of casual, ...``.

Precedence, most specific first: a channel's table, its server's table, the file's top level,
then `.env` (SEL_MODE, SEL_CHECKINS, SEL_TTS_DEFAULT, SEL_TEMPERATURE ...). An access list given
in ``[access]`` replaces the `.env` list of the same name; ``owners`` and ``moderators`` add to the
bot's Discord owners.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sel.config import MODES
from sel.domain import Sampling
from sel.owner_toml import Path_, SettingsFileError, key_lines, line_of, parse_toml, show_key

DEFAULT_NAME = "SEL"
MAX_NAME = 32
MAX_PERSONA = 8000  # characters; a character card is trimmed to fit (see sel.character_card)
ID_LISTS = (
    "owners",
    "moderators",
    "allowed_users",
    "blocked_users",
    "allowed_roles",
    "blocked_roles",
    "allowed_channels",
    "blocked_channels",
)
SAMPLING_RANGES = {"temperature": (0.0, 5.0), "top_p": (0.0, 1.0), "repeat_penalty": (0.5, 3.0)}


@dataclass(frozen=True)
class Place:
    """Overrides for one place (the file's top level, a server or a channel); None inherits."""

    persona: str | None = None
    mode: str | None = None
    reply_threshold: int | None = None
    checkins: bool | None = None
    spoken_replies: bool | None = None
    memory: bool | None = None
    allowed_channels: frozenset[int] | None = None  # a server's own: SEL talks only in these there

    def over(self, base: Place) -> Place:
        """This place's values where it has them, ``base``'s elsewhere."""
        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}
        return dataclasses.replace(base, **mine)


@dataclass(frozen=True)
class Server:
    """A server's overrides and its channels' (by channel id)."""

    place: Place = Place()
    channels: Mapping[str, Place] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnerSettings:
    """sel.toml, validated. The defaults (no file) are SEL as configured by `.env` alone."""

    name: str = DEFAULT_NAME
    mode: str | None = None  # replaces SEL_MODE as the mode everywhere without its own
    top: Place = Place()
    modes: Mapping[str, Sampling] = field(default_factory=dict)
    access: Mapping[str, frozenset[int]] = field(default_factory=dict)  # only the lists the file gives
    allow_dms: bool | None = None
    servers: Mapping[str, Server] = field(default_factory=dict)

    def place(self, guild_id: str = "", channel_id: str = "") -> Place:
        """The overrides in effect in ``channel_id`` of ``guild_id`` ("" for a DM or the terminal)."""
        server = self.servers.get(guild_id) if guild_id else None
        if server is None:
            return self.top
        return server.channels.get(channel_id, Place()).over(server.place.over(self.top))

    def sampling(self, mode: str) -> Sampling:
        """The file's sampling for ``mode`` (fields it leaves out are None: `.env`'s values apply)."""
        return self.modes.get(mode, Sampling())

    def turns_on(self, key: str) -> bool:
        """Whether the file turns ``key`` (e.g. "checkins") on anywhere: at the top, for a server or a channel."""
        places = [self.top, *(s.place for s in self.servers.values())]
        places += [c for s in self.servers.values() for c in s.channels.values()]
        return any(getattr(place, key) is True for place in places)

    def ids(self, name: str, env_ids: frozenset[int]) -> frozenset[int]:
        """The access list ``name`` in effect: the file's when it gives one, else `.env`'s."""
        return self.access.get(name, env_ids)


def parse_owner_settings(text: str, label: str = "sel.toml") -> OwnerSettings:
    """Validate sel.toml's ``text``; SettingsFileError names ``label``, the line and the key of the first problem."""
    data = parse_toml(text, label)
    try:
        return _owner(data)
    except _Bad as bad:
        line = line_of(key_lines(text), bad.path)
        where = f"{label} line {line}" if line is not None else label
        raise SettingsFileError(f"{where}: {show_key(bad.path)}: {bad.problem}") from None


class _Bad(Exception):
    def __init__(self, path: Path_, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


def _owner(data: dict[str, Any]) -> OwnerSettings:
    _known(data, (), ("name", "modes", "access", "servers", *_PLACE_KEYS))
    name = _text(data.get("name", DEFAULT_NAME), ("name",), MAX_NAME, one_line=True)
    access, allow_dms = _access(data.get("access", {}))
    modes = _table(data.get("modes", {}), ("modes",))
    return OwnerSettings(
        name=name,
        mode=_mode(data["mode"], ("mode",)) if "mode" in data else None,
        top=dataclasses.replace(_place(data, ()), mode=None),  # the top-level mode is SEL's own (see ``mode``)
        modes={_mode(mode, ("modes", mode)): _sampling(values, ("modes", mode)) for mode, values in modes.items()},
        access=access,
        allow_dms=allow_dms,
        servers={gid: _server(values, gid) for gid, values in _table(data.get("servers", {}), ("servers",)).items()},
    )


def _server(values: Any, gid: str) -> Server:
    path = ("servers", gid)
    _snowflake(gid, path, "a server id")
    table = _table(values, path)
    _known(table, path, (*_PLACE_KEYS, "allowed_channels", "channels"))
    channels = {}
    for cid, channel in _table(table.get("channels", {}), (*path, "channels")).items():
        where = (*path, "channels", cid)
        _snowflake(cid, where, "a channel id")
        _known(_table(channel, where), where, _PLACE_KEYS)
        channels[cid] = _place(channel, where)
    place = _place(table, path)
    if "allowed_channels" in table:
        allowed = _ids(table["allowed_channels"], (*path, "allowed_channels"))
        place = dataclasses.replace(place, allowed_channels=allowed)
    return Server(place, channels)


def _place(table: dict[str, Any], path: Path_) -> Place:
    values = {key: check(table[key], (*path, key)) for key, check in _PLACE_KEYS.items() if key in table}
    return Place(**values)


def _access(values: Any) -> tuple[dict[str, frozenset[int]], bool | None]:
    table = _table(values, ("access",))
    _known(table, ("access",), (*ID_LISTS, "allow_dms"))
    lists = {name: _ids(table[name], ("access", name)) for name in ID_LISTS if name in table}
    allow_dms = _flag(table["allow_dms"], ("access", "allow_dms")) if "allow_dms" in table else None
    return lists, allow_dms


def _sampling(values: Any, path: Path_) -> Sampling:
    table = _table(values, path)
    _known(table, path, tuple(SAMPLING_RANGES))
    found = {}
    for key, (low, high) in SAMPLING_RANGES.items():
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Bad((*path, key), f"{value!r} is not a number; use a number from {low} to {high}")
            if not low <= value <= high:
                raise _Bad((*path, key), f"{value} is out of range; use a number from {low} to {high}")
            found[key] = float(value)
    return Sampling(**found)


# ---- single values -------------------------------------------------------------------------------


def _known(table: dict[str, Any], path: Path_, allowed: Any) -> None:
    for key in table:
        if key not in allowed:
            raise _Bad((*path, key), f"unknown setting; use one of {', '.join(allowed)}")


def _table(value: Any, path: Path_) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(path, f"{value!r} is not a table; write it as [{show_key(path)}]")
    return value


def _text(value: Any, path: Path_, limit: int = MAX_PERSONA, *, one_line: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(path, f"{value!r} is not text; write it in quotes")
    if len(value) > limit:
        raise _Bad(path, f"{len(value)} characters is too long; keep it to {limit}")
    if one_line and ("\n" in value or ":" in value):
        raise _Bad(path, f"{value!r} must be one line without a colon")
    return value.strip()


def _mode(value: Any, path: Path_) -> str:
    if value not in MODES:
        raise _Bad(path, f"{value!r} is not a mode; use one of {', '.join(MODES)}")
    return str(value)


def _threshold(value: Any, path: Path_) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise _Bad(path, f"{value!r} is not a reply threshold; use a whole number from 0 (always) to 100")
    return value


def _flag(value: Any, path: Path_) -> bool:
    if not isinstance(value, bool):
        raise _Bad(path, f"{value!r} is not true or false; write true or false without quotes")
    return value


def _ids(value: Any, path: Path_) -> frozenset[int]:
    if not isinstance(value, list):
        raise _Bad(path, f"{value!r} is not a list; write Discord ids as [123, 456]")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise _Bad(path, f"{item!r} is not a Discord id; write ids as numbers without quotes")
    return frozenset(value)


def _snowflake(key: str, path: Path_, what: str) -> None:
    if not key.isdigit():
        raise _Bad(path, f"{key!r} is not {what}; use the number Discord shows (Copy ID)")


_PLACE_KEYS: dict[str, Callable[[Any, Path_], Any]] = {
    "persona": _text,
    "mode": _mode,
    "reply_threshold": _threshold,
    "checkins": _flag,
    "spoken_replies": _flag,
    "memory": _flag,
}
