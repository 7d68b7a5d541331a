"""SEL's hormones: seven levels in [0, 1] that drift, follow the clock and react to events.

The chemistry is a metaphor that keeps mood changes gradual and explainable:

    dopamine      reward, engagement       serotonin     contentment, stability
    adrenaline    arousal, energy          cortisol      stress (peaks in the morning)
    melatonin     sleepiness (high at night, local time)
    estrogen      warmth, empathy          testosterone  assertiveness, edge

Each hormone relaxes toward its target with its own half-life: after one half-life the
distance to the target has halved. The target is a baseline plus, for melatonin, cortisol
and serotonin, a circadian term of the local hour. Events (praise, hostility, …) push
levels up or down; a push of +d moves a level d of the way to 1, a push of -d moves it d of
the way to 0, so levels never leave [0, 1].

Everything here is a pure function of (state, event, time): nothing reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

HORMONES = ("dopamine", "serotonin", "adrenaline", "cortisol", "melatonin", "estrogen", "testosterone")

BASELINES: dict[str, float] = {
    "dopamine": 0.5,
    "serotonin": 0.5,
    "adrenaline": 0.3,
    "cortisol": 0.3,
    "melatonin": 0.15,
    "estrogen": 0.45,
    "testosterone": 0.4,
}
HALF_LIVES: dict[str, float] = {  # seconds
    "dopamine": 20 * 60,
    "serotonin": 2 * 3600,
    "adrenaline": 5 * 60,
    "cortisol": 60 * 60,
    "melatonin": 60 * 60,
    "estrogen": 6 * 3600,
    "testosterone": 3 * 3600,
}
# (amplitude, peak hour, sharpness): a raised cosine of the local hour, peaking at the peak hour.
CIRCADIAN: dict[str, tuple[float, float, int]] = {
    "melatonin": (0.7, 3.0, 2),  # high from late evening, peaks around 3 am, low by day
    "cortisol": (0.35, 8.0, 3),  # the morning peak, flat after midday
    "serotonin": (0.1, 13.0, 1),  # a little brighter by day
}
EVENTS: dict[str, dict[str, float]] = {
    "praise": {"dopamine": 0.25, "serotonin": 0.15, "cortisol": -0.15, "estrogen": 0.05},
    "hostility": {"cortisol": 0.3, "adrenaline": 0.3, "testosterone": 0.15, "serotonin": -0.2, "dopamine": -0.15},
    "excitement": {"dopamine": 0.2, "adrenaline": 0.25, "testosterone": 0.05},
    "sadness": {"estrogen": 0.2, "serotonin": -0.1, "dopamine": -0.1, "cortisol": 0.05},
    "ignored": {"dopamine": -0.2, "serotonin": -0.1, "cortisol": 0.1},
    "long_silence": {"adrenaline": -0.3, "dopamine": -0.1, "cortisol": -0.1, "melatonin": 0.1},
    "mentioned": {"dopamine": 0.1, "adrenaline": 0.1, "serotonin": 0.05},
}


@dataclass(frozen=True)
class HormoneState:
    """Hormone levels at a moment (``updated_at``, Unix seconds)."""

    levels: Mapping[str, float]
    updated_at: float

    def level(self, name: str) -> float:
        return self.levels[name]


def local_hour(now: float, tz: tzinfo | None = None) -> float:
    """The hour of day (0–24, fractional) at ``now`` in ``tz`` (None: the machine's local time)."""
    moment = datetime.fromtimestamp(now, tz) if tz is not None else datetime.fromtimestamp(now).astimezone()
    return moment.hour + moment.minute / 60 + moment.second / 3600


def circadian(name: str, hour: float) -> float:
    """The circadian part of a hormone's target at ``hour`` (0 for hormones without a rhythm)."""
    if name not in CIRCADIAN:
        return 0.0
    amplitude, peak, sharpness = CIRCADIAN[name]
    phase = (1 + math.cos(2 * math.pi * (hour - peak) / 24)) / 2
    return amplitude * phase**sharpness


def target(name: str, hour: float) -> float:
    """Where a hormone settles when nothing happens, at this local hour."""
    return min(1.0, BASELINES[name] + circadian(name, hour))


def initial_state(now: float, tz: tzinfo | None = None) -> HormoneState:
    """Every hormone at its target for the time of day."""
    hour = local_hour(now, tz)
    return HormoneState({name: target(name, hour) for name in HORMONES}, now)


def decay(state: HormoneState, now: float, tz: tzinfo | None = None) -> HormoneState:
    """Relax every level toward its target for the time elapsed since ``state.updated_at``."""
    elapsed = max(0.0, now - state.updated_at)
    hour = local_hour(now, tz)
    levels = {}
    for name in HORMONES:
        goal = target(name, hour)
        remaining = 0.5 ** (elapsed / HALF_LIVES[name])
        levels[name] = _clamp(goal + (state.levels[name] - goal) * remaining)
    return HormoneState(levels, max(now, state.updated_at))


def apply_event(state: HormoneState, event: str, now: float, tz: tzinfo | None = None) -> HormoneState:
    """Decay to ``now``, then apply one event's pushes. Unknown events are a programming error."""
    pushes = EVENTS[event]
    state = decay(state, now, tz)
    levels = dict(state.levels)
    for name, push in pushes.items():
        level = levels[name]
        levels[name] = _clamp(level + push * (1 - level) if push >= 0 else level + push * level)
    return replace(state, levels=levels)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))
