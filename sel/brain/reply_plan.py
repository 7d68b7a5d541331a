"""The prompt plan for one reply and its length budget, in the mode, persona and name in effect where
the message was posted."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from sel.brain import prompt, style
from sel.brain.modes import get_mode
from sel.domain import Decision, IncomingMessage, PromptPlan, Turn
from sel.owner_settings import OwnerSettings


def reply_plan(
    msg: IncomingMessage,
    history: Sequence[Turn],
    decision: Decision,
    note: str,
    *,
    notes: Mapping[str, str],
    owner: OwnerSettings,
) -> PromptPlan:
    """The plan for answering ``msg`` after ``history``, with the tone ``notes`` on SEL's recent replies there."""
    text = decision.route.text
    turn = Turn(msg.author_name, text)
    mode = get_mode(decision.mode)  # the mode in effect where the message was posted
    plan = prompt.build_plan(
        mode,
        _history_before(msg, history, text),
        turn,
        note,
        notes,
        persona=owner.place(msg.guild_id, msg.channel_id).persona,
        name=owner.name,
        sampling=owner.sampling(mode.name),
    )
    return dataclasses.replace(plan, images=msg.images) if decision.slot == "vision" else plan


def reply_budget(decision: Decision, shape: style.ReplyShape, max_new_tokens: int) -> int:
    """Tokens for the reply: the mode's length for the slot, scaled to how long the person writes (not code)."""
    max_tokens = get_mode(decision.mode).max_tokens(max_new_tokens, decision.slot)
    if decision.slot != "coder":
        max_tokens = max(16, round(max_tokens * shape.length_factor))
    return max_tokens


def _history_before(msg: IncomingMessage, history: Sequence[Turn], text: str) -> Sequence[Turn]:
    if history and not history[-1].from_sel and history[-1].text.strip() in (msg.text.strip(), text.strip()):
        return history[:-1]
    return history
