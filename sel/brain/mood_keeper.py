"""SEL's hormones as time passes: decayed to the present, moved by messages and by being ignored, saved.

The maths is pure (hormones.py, stimuli.py); this keeps the one current state, the moments it
depends on (last activity, an unanswered question) and its file (hormone_store.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path

from sel.brain.hormone_store import HormoneStore
from sel.brain.hormones import HormoneState, apply_event, decay, initial_state
from sel.brain.stimuli import idle_events, message_events
from sel.domain import Decision

log = logging.getLogger(__name__)


class MoodKeeper:
    """The current hormone state and what moves it; blocking :meth:`save` belongs in a thread."""

    def __init__(self, data_dir: Path, clock: Callable[[], float], tz: tzinfo | None) -> None:
        self.tz = tz  # for the circadian rhythm; None means the machine's local time
        self._store = HormoneStore(data_dir)
        self.hormones: HormoneState = self._store.load() or initial_state(clock(), tz)
        self.last_activity: float | None = None
        self.unanswered_since: float | None = None

    def at(self, now: float) -> HormoneState:
        """The hormones decayed to ``now``, kept as the current state."""
        self.hormones = decay(self.hormones, now, self.tz)
        return self.hormones

    def feel(self, decision: Decision, now: float) -> None:
        """A message SEL answers: time passed since the last one, and what the message says, move the mood."""
        events = idle_events(now, self.last_activity, self.unanswered_since)
        events += message_events(decision.route.text, addressed=decision.priority.addressed)
        self.apply(events, now)
        self.last_activity = now
        self.unanswered_since = None

    def tick(self, now: float) -> list[str]:
        """Let time act on the mood (being ignored, long silence); returns the events that happened."""
        events = idle_events(now, self.last_activity, self.unanswered_since)
        self.apply(events, now)
        return events

    def apply(self, events: Sequence[str], now: float) -> None:
        state = decay(self.hormones, now, self.tz)
        for event in events:
            state = apply_event(state, event, now, self.tz)
            if event == "ignored":
                self.unanswered_since = None
            elif event == "long_silence":
                self.last_activity = now
        self.hormones = state

    def save(self) -> None:
        """Write the hormone state (blocking: call it in a thread); a failure is logged, not raised."""
        try:
            self._store.save(self.hormones)
        except OSError as err:
            # The mood is worth keeping but not worth failing a reply over.
            log.warning("could not save the hormone state to %s: %s", self._store.path, err)
