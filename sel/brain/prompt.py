"""The one place a :class:`~sel.llm.prompt.PromptPlan` is put together.

Layout for llama.cpp's prefix reuse (see sel.llm.prompt):

- ``persona``: SEL's persona and the mode's instructions. It depends on nothing else, so it
  only changes when the mode does (and is the same for the general and the coder slot);
- ``turns``: the conversation, ending with the message being answered. Each of SEL's earlier
  turns carries, as its ``note``, the tone line that preceded it when it was generated, so
  the text before that turn reads the same as it did then;
- ``late_note``: what changes every turn, in this order — the tone line (mood, emoji budget,
  style guidance), the task line for the intent, the memory hint, and last the author's
  recalled memories. Memories only ever appear here, in a reply to their owner, and never
  become a ``note``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sel.brain.memory_port import RecalledLike
from sel.brain.modes import Mode
from sel.brain.mood import Mood
from sel.brain.style import ReplyShape
from sel.domain import PromptPlan, Turn

SEL_NAME = "SEL"
PERSONA = (
    "This is a chat log. SEL (Systematic Emotional Logic) is a warm, curious and helpful companion who lives on "
    "its owner's computer and hangs out in their chats. SEL talks to whoever spoke to it, stays honest about what "
    "it does not know, and never claims to remember something nobody told it."
)
TASKS = {
    "code": "Answer the programming question: a short explanation and correct code in ``` fences.",
    "vision": "Answer about the attached image.",
    "memory": "They are asking about what SEL remembers; answer from the memories below only.",
    "general": "",
}
NO_MEMORY = "SEL has no long-term memory in this set-up: say so kindly if asked to remember or forget things."
NO_CONSENT = (
    "SEL only remembers things for people who opt in; if they want that, they can say "
    "'you can remember things about me'."
)
MAX_MEMORY_CHARS = 300


def persona_for(mode: Mode) -> str:
    """The stable head of every prompt in this mode."""
    return f"{PERSONA}\n{mode.instructions}"


def tone_line(mood: Mood, shape: ReplyShape) -> str:
    """Mood, emoji budget and style guidance: the part of the late note SEL's turn keeps as its note."""
    emoji = "no emoji" if shape.emoji_budget == 0 else f"at most {shape.emoji_budget} emoji"
    parts = [f"SEL feels {mood.name}: {mood.tone}", emoji]
    if shape.guidance:
        parts.append(shape.guidance)
    return "; ".join(parts) + "."


def late_note(
    tone: str,
    *,
    intent: str,
    author: str,
    memory_hint: str = "",
    memories: Sequence[RecalledLike] = (),
) -> str:
    """Everything that changes per turn, tone first and the author's memories last."""
    parts = [tone]
    if TASKS.get(intent):
        parts.append(TASKS[intent])
    if memory_hint:
        parts.append(memory_hint)
    if memories:
        ordered = sorted(memories, key=lambda m: (not m.hard, -m.score))
        facts = "; ".join(m.text.strip()[:MAX_MEMORY_CHARS] for m in ordered if m.text.strip())
        if facts:
            parts.append(f"What SEL remembers about {author}: {facts}")
    return " ".join(parts)


def with_notes(history: Sequence[Turn], notes: Mapping[str, str]) -> tuple[Turn, ...]:
    """History with each of SEL's turns given the tone note it was generated under (if known)."""
    out = []
    for turn in history:
        note = notes.get(turn.text.strip()) if turn.from_sel and not turn.note else None
        out.append(Turn(turn.speaker, turn.text, turn.from_sel, note) if note else turn)
    return tuple(out)


def build_plan(
    mode: Mode,
    history: Sequence[Turn],
    message: Turn,
    note: str,
    notes: Mapping[str, str],
) -> PromptPlan:
    """The plan for answering ``message`` after ``history`` (which must not contain it)."""
    turns = with_notes(history, notes)
    return PromptPlan(persona=persona_for(mode), turns=(*turns, message), late_note=note, sel_name=SEL_NAME)
