"""Check-ins (SEL_CHECKINS=1): an occasional friendly message after a lull.

The model writes them (Conversation._check_in_text), for the people who talked with SEL in the
channel in the last day; the canned lines here are only for when it cannot.

Rules, all pure functions of the recorded times and an injected ``now``:
- only in a channel where SEL answered someone in the last day (its own check-ins do not count,
  so it never keeps checking in where nobody talks with it), and that was active in the last
  day (never in a channel silent for days);
- only after a lull of at least two hours, and at most once per lull;
- never while someone is typing;
- at most SEL_CHECKINS_PER_DAY per channel in any 24 hours;
- driven by mood: when dopamine is up (SEL is in high spirits), or the lull is long (6 h+).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sel.config import DiscordSettings

DAY = 24 * 3600.0
LULL = 2 * 3600.0
LONG_LULL = 6 * 3600.0
TYPING_GRACE = 15.0
HIGH_SPIRITS = 0.6

LINES_CHEERFUL = (
    "hey all, it's gone quiet in here. how's everyone doing? ✨",
    "just checking in: anything fun happening today?",
)
LINES_CALM = (
    "quiet day. hope everyone is doing alright.",
    "checking in — I'm here if anyone wants to chat.",
)


@dataclass
class ChannelTimes:
    last_message: float = 0.0
    last_sel: float | None = None
    last_typing: float = 0.0
    checkins: list[float] = field(default_factory=list)
    talked: dict[str, float] = field(default_factory=dict)  # who talked to SEL here -> when, last day only


class CheckinBook:
    """What SEL needs to know per channel to decide on a check-in."""

    def __init__(self, settings: DiscordSettings) -> None:
        self.per_day = settings.checkins_per_day
        self.channels: dict[int, ChannelTimes] = {}

    def _times(self, channel_id: int) -> ChannelTimes:
        return self.channels.setdefault(channel_id, ChannelTimes())

    def saw_message(self, channel_id: int, now: float, *, to_sel: bool, author: str = "") -> None:
        times = self._times(channel_id)
        times.last_message = now
        if to_sel and author:
            times.talked.pop(author, None)
            times.talked[author] = now  # most recent last
            times.talked = {name: t for name, t in times.talked.items() if now - t <= DAY}

    def people(self, channel_id: int, now: float) -> list[str]:
        """Who talked with SEL in this channel in the last day, most recent first."""
        talked = self._times(channel_id).talked
        return [name for name, t in reversed(talked.items()) if now - t <= DAY]

    def saw_typing(self, channel_id: int, now: float) -> None:
        self._times(channel_id).last_typing = now

    def sel_spoke(self, channel_id: int, now: float) -> None:
        times = self._times(channel_id)
        times.last_sel = now
        times.last_message = now

    def checked_in(self, channel_id: int, now: float) -> None:
        self._times(channel_id).checkins.append(now)  # not `last_sel`: a check-in is no conversation

    def due(self, now: float, levels: Mapping[str, float]) -> list[int]:
        """Channels where a check-in is due at ``now``."""
        return [cid for cid, times in self.channels.items() if self._is_due(times, now, levels)]

    def _is_due(self, times: ChannelTimes, now: float, levels: Mapping[str, float]) -> bool:
        times.checkins = [t for t in times.checkins if now - t < DAY]
        if times.last_sel is None or now - times.last_sel > DAY:
            return False
        lull = now - times.last_message
        if lull < LULL or lull > DAY:
            return False
        if now - times.last_typing < TYPING_GRACE:
            return False
        if len(times.checkins) >= self.per_day:
            return False
        if times.checkins and times.checkins[-1] >= times.last_message:
            return False  # already checked in during this lull
        return levels.get("dopamine", 0.0) >= HIGH_SPIRITS or lull >= LONG_LULL

    def line(self, now: float, levels: Mapping[str, float]) -> str:
        lines = LINES_CHEERFUL if levels.get("dopamine", 0.0) >= HIGH_SPIRITS else LINES_CALM
        return lines[int(now // 3600) % len(lines)]
