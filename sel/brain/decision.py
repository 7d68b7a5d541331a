"""The decision for one message: route, priority, silence and which model slot answers.

Pure: it reads only its arguments and calls no model.
"""

from __future__ import annotations

from sel.brain.modes import Mode
from sel.brain.priority import assess, should_answer
from sel.brain.router import route
from sel.domain import Decision, IncomingMessage

SLOTS = {"code": "coder", "general": "general", "memory": "general", "vision": "vision"}
NO_VISION_REPLY = (
    "I can't see images with this set-up (no vision model is configured). "
    "If you describe it or paste any text from it, I'm happy to help!"
)


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
