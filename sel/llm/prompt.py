"""Prompt plans and how they become model input.

A :class:`PromptPlan` says *what* goes in a prompt; a format says *how* it is laid out
for one model. The layout is chosen so that llama.cpp can reuse its KV cache from one
turn to the next: the stable persona first, then the conversation, and what changes
every turn (mood, recalled memories) last, just before SEL's reply.

Two formats:
- the GGUF's own chat template when it has one (instruction-tuned models);
- otherwise a multi-user transcript (``name: text`` lines ending with ``SEL:``), which
  suits base models such as the bundled Gemma 3 270M.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from sel.domain import CUT_TURN, PromptPlan, Turn

SPEAKER_MAX = 32


@dataclass(frozen=True)
class Rendered:
    """Model input as text, plus the stop strings that end SEL's turn."""

    text: str
    stop: tuple[str, ...]


class PromptFormat(Protocol):
    def render(self, plan: PromptPlan) -> Rendered: ...


def clean_speaker(name: str) -> str:
    """A speaker label that cannot break the transcript (no newlines or colons, bounded length)."""
    label = re.sub(r"[\s:]+", " ", name).strip()[:SPEAKER_MAX]
    return label or "someone"


class TranscriptFormat:
    """``name: text`` lines for base models; stops when another speaker's line starts."""

    def render(self, plan: PromptPlan) -> Rendered:
        sel = clean_speaker(plan.sel_name)
        lines = [plan.persona.strip(), ""]
        speakers = {sel}
        for turn in plan.turns:
            if turn.from_sel:
                if turn.note:
                    lines.append(f"({turn.note.strip()})")
                lines.append(f"{sel}: {turn.text.strip()}")
            else:
                name = clean_speaker(turn.speaker)
                speakers.add(name)
                lines.append(f"{name}: {turn.text.strip()}")
        if plan.late_note:
            lines.append(f"({plan.late_note.strip()})")
        lines.append(f"{sel}: {plan.prefill.rstrip()}" if plan.prefill.strip() else f"{sel}:")
        # "\n(" too: base models imitate the stage-direction lines of earlier turns.
        stops = (*sorted(f"\n{name}:" for name in speakers), "\n(")
        return Rendered("\n".join(lines), stops)


class ChatTemplateFormat:
    """The model's own Jinja chat template (from its GGUF metadata)."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._formatter = Jinja2ChatFormatter(template=template, bos_token=bos_token, eos_token=eos_token)
        self._eos = eos_token
        self._bos = bos_token

    def messages(self, plan: PromptPlan) -> list[dict[str, Any]]:
        return chat_messages(replace(plan, prefill=""))

    def render(self, plan: PromptPlan) -> Rendered:
        # Plain dicts of the shape llama-cpp-python's message TypedDicts describe.
        result = self._formatter(messages=cast(Any, self.messages(plan)))
        # The template ends by opening SEL's turn: a prefill is the start of what SEL writes there.
        prompt = result.prompt + plan.prefill.rstrip()
        if self._bos and prompt.startswith(self._bos):
            prompt = prompt[len(self._bos) :]  # llama.cpp adds the BOS token itself
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return Rendered(prompt, tuple(s for s in [*stop, self._eos] if s))


def chat_messages(plan: PromptPlan) -> list[dict[str, Any]]:
    """System persona, then alternating user/assistant messages; notes ride on the user side."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": plan.persona.strip()}]
    pending: list[str] = []

    def flush_user() -> None:
        if pending:
            messages.append({"role": "user", "content": "\n".join(pending)})
            pending.clear()

    for turn in plan.turns:
        if turn.from_sel:
            if turn.note:
                pending.append(f"({turn.note.strip()})")
            if not pending and messages[-1]["role"] == "system":
                pending.append("(conversation continues)")
            flush_user()
            if messages[-1]["role"] == "assistant":
                messages[-1]["content"] += "\n" + turn.text.strip()
            else:
                messages.append({"role": "assistant", "content": turn.text.strip()})
        else:
            pending.append(f"{clean_speaker(turn.speaker)}: {turn.text.strip()}")
    if plan.late_note:
        pending.append(f"({plan.late_note.strip()})")
    if not pending:
        pending.append("(continue)")
    flush_user()
    if plan.images:  # pictures ride on the last user message, as OpenAI-style content parts
        last = messages[-1]
        parts: list[dict[str, Any]] = [{"type": "text", "text": last["content"]}]
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in plan.images]
        last["content"] = parts
    if plan.prefill.strip():  # a final assistant message: servers such as llama-server continue it
        messages.append({"role": "assistant", "content": plan.prefill.rstrip()})
    return messages


def fit_turns(
    plan: PromptPlan,
    count_tokens: Callable[[PromptPlan], int],
    budget: int,
    anchor: Turn | None,
    keep_ratio: float = 0.6,
) -> tuple[PromptPlan, Turn | None]:
    """Trim the oldest turns so the prompt fits ``budget`` tokens, in chunks.

    The conversation starts at ``anchor`` (the first turn kept last time) while it is still
    there and the prompt fits; only when it no longer fits does the start jump forward, to
    where the prompt takes ``keep_ratio`` of the budget. Sliding the window one message per
    turn would change the prompt's beginning every turn and defeat llama.cpp's prefix reuse.
    Returns the fitted plan and the new anchor.
    """
    turns = plan.turns
    start = _index_of(turns, anchor)
    if start is None:
        start = 0 if anchor is None else len(turns) // 2

    def from_(i: int) -> PromptPlan:
        # A constant note where turns were dropped: SEL knows the context was cut, and the
        # prompt's beginning stays the same from one turn to the next.
        kept = turns[i:]
        if i > 0 and not (kept and kept[0] == CUT_TURN):
            kept = (CUT_TURN, *kept)
        return replace(plan, turns=kept)

    candidate = from_(start)
    if count_tokens(candidate) <= budget:
        return candidate, turns[start] if start < len(turns) else None
    target = int(budget * keep_ratio)
    # Keep at least the message being answered; drop from the front until under target.
    lo, hi = start, max(start, len(turns) - 1)
    while lo < hi:  # binary search: the earliest start that fits the target
        mid = (lo + hi) // 2
        if count_tokens(from_(mid)) <= target:
            hi = mid
        else:
            lo = mid + 1
    fitted = from_(lo)
    if count_tokens(fitted) > budget:
        fitted = replace(fitted, turns=(_truncate_turn(fitted.turns[-1], count_tokens, plan, budget),))
    return fitted, turns[lo] if lo < len(turns) else None


def _index_of(turns: Sequence[Turn], anchor: Turn | None) -> int | None:
    if anchor is None:
        return None
    for i, turn in enumerate(turns):
        if turn == anchor:
            return i
    return None


def _truncate_turn(turn: Turn, count_tokens: Callable[[PromptPlan], int], plan: PromptPlan, budget: int) -> Turn:
    """A single message too long for the context keeps its end (the most recent words)."""
    text = turn.text
    while len(text) > 16 and count_tokens(replace(plan, turns=(replace(turn, text=text),))) > budget:
        text = "…" + text[len(text) // 4 :]
    return replace(turn, text=text)
