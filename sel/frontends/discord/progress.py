"""When SEL's replies last moved: the evidence for the engine watchdog (see sel/health.py)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Counts replies in flight and notes the last time any of them received a piece of text.

    Replies share one engine and wait for it in turn, so one reply waiting long proves nothing;
    all of them waiting, with none moving for minutes, means the engine is stuck.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.in_flight = 0
        self._moved_at = clock()

    def started(self) -> None:
        if self.in_flight == 0:
            self._moved_at = self.clock()  # an idle engine has not stalled: count from now
        self.in_flight += 1

    def moved(self) -> None:
        self._moved_at = self.clock()

    def ended(self) -> None:
        self.in_flight -= 1

    def stalled_for(self) -> float:
        """Seconds since a reply in flight last moved (0 when none is in flight)."""
        return self.clock() - self._moved_at if self.in_flight > 0 else 0.0
