"""One piece of routing evidence (a :class:`Signal`) and how repeated evidence is counted once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: how much it weighs and the words that explain it."""

    weight: float
    reason: str


def dedupe(signals: list[Signal]) -> list[Signal]:
    """The signals in order, each reason counted once (the first signal with it is kept)."""
    seen: set[str] = set()
    out = []
    for signal in signals:
        if signal.reason not in seen:
            seen.add(signal.reason)
            out.append(signal)
    return out
