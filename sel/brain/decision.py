"""The decision for one message: route, priority, silence and which model slot answers.

Pure: it reads only its arguments and calls no model.
"""

from __future__ import annotations

import dataclasses

from sel.brain.modes import Mode
from sel.brain.priority import assess, should_answer
from sel.brain.router import route
from sel.domain import Decision, IncomingMessage, Route

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
    slot, text = _slot_for(routed, vision_available)
    return Decision(routed, priority, silent, slot, mode.name, text)


def reroute(decision: Decision, msg: IncomingMessage, *, vision_available: bool) -> Decision:
    """``decision`` for ``msg`` once its attachments have been read into its text.

    Whether SEL answers stays as decided (a frontend reads attachments only for messages SEL
    answers); the route, and so the model slot, follow the full text: a stack trace in a
    .txt file, or a question asked in a voice message, is routed by what it says.
    """
    routed = route(msg.text, msg.attachments)
    slot, text = _slot_for(routed, vision_available)
    return dataclasses.replace(decision, route=routed, slot=slot, text=text)


def _slot_for(routed: Route, vision_available: bool) -> tuple[str, str | None]:
    """The model slot for a route, and the canned reply when that model is missing."""
    slot = SLOTS[routed.intent]
    if slot == "vision" and not vision_available:
        return "general", NO_VISION_REPLY
    return slot, None
