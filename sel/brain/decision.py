"""The decision for one message: route, priority, silence and which model slot answers.

Pure: it reads only its arguments and calls no model.
"""

from __future__ import annotations

from dataclasses import dataclass

from sel.brain.message import IncomingMessage
from sel.brain.modes import Mode
from sel.brain.priority import Priority, assess, should_answer
from sel.brain.router import Route, route

SLOTS = {"code": "coder", "general": "general", "memory": "general", "vision": "vision"}
NO_VISION_REPLY = (
    "I can't see images with this set-up (no vision model is configured). "
    "If you describe it or paste any text from it, I'm happy to help!"
)


@dataclass(frozen=True)
class Decision:
    """What the brain will do with a message, and why."""

    route: Route
    priority: Priority
    silent: bool
    slot: str  # "general" | "coder" | "vision"
    mode: str
    text: str | None = None  # a canned reply that needs no model (vision without a vision model)

    def explain(self) -> str:
        """Two or three lines for `/why` and `!why`."""
        r, p = self.route, self.priority
        forced = ", forced" if r.forced else ""
        lines = [
            f"route: {r.intent} (confidence {r.confidence:.2f}{forced}) — {r.reason}",
            f"priority: {p.level} (score {p.score}) — {p.reason}",
        ]
        if self.silent:
            lines.append(f"reply: none — below the {self.mode} threshold")
        elif self.text is not None:
            lines.append("reply: a canned answer (no model call)")
        else:
            lines.append(f"reply: yes, from the {self.slot} model ({self.mode} mode)")
        return "\n".join(lines)


def decide(
    msg: IncomingMessage,
    *,
    mode: Mode,
    vision_available: bool,
    sel_name: str = "SEL",
    seconds_since_reply: float | None = None,
) -> Decision:
    """Route and prioritise ``msg``; silence it when it is below the mode's threshold."""
    routed = route(msg.text, msg.attachments)
    priority = assess(msg, routed, sel_name=sel_name, seconds_since_reply=seconds_since_reply)
    silent = not should_answer(priority, mode.silence_threshold)
    slot = SLOTS[routed.intent]
    text = None
    if slot == "vision" and not vision_available:
        slot, text = "general", NO_VISION_REPLY
    return Decision(routed, priority, silent, slot, mode.name, text)
