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
from datetime import UTC, datetime

from sel.brain.memory_port import RecalledLike
from sel.brain.modes import Mode
from sel.brain.mood import Mood
from sel.brain.style import ReplyShape
from sel.domain import PromptPlan, Sampling, Turn

SEL_NAME = "SEL"
# SEL's own character, replaced by the owner's persona (sel.toml); the rules after it always stay.
CHARACTER = (
    "{name} is a warm, curious and helpful companion who lives on its owner's computer and hangs out in their chats."
)
RULES = (
    "{name} talks to whoever spoke to it, stays honest about what it does not know, and never claims to remember "
    "something nobody told it."
)
PERSONA = (
    f"This is a chat log. {CHARACTER.format(name='SEL (Systematic Emotional Logic)')} {RULES.format(name=SEL_NAME)}"
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
NO_SAMPLING = Sampling()  # the engine's own sampling (.env)


def persona_for(mode: Mode, persona: str | None = None, name: str = SEL_NAME) -> str:
    """The stable head of every prompt: the owner's persona (or SEL's own character), SEL's rules, the mode."""
    if persona is None:
        persona = CHARACTER.format(name="SEL (Systematic Emotional Logic)" if name == SEL_NAME else name)
    return f"This is a chat log. {persona.strip()} {RULES.format(name=name)}\n{mode.instructions}"


def tone_line(mood: Mood, shape: ReplyShape, name: str = SEL_NAME) -> str:
    """Mood, emoji budget and style guidance: the part of the late note SEL's turn keeps as its note."""
    emoji = "no emoji" if shape.emoji_budget == 0 else f"at most {shape.emoji_budget} emoji"
    parts = [f"{name} feels {mood.name}: {mood.tone}", emoji]
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
    name: str = SEL_NAME,
) -> str:
    """Everything that changes per turn, tone first and the author's memories last."""
    parts = [tone]
    if TASKS.get(intent):
        parts.append(TASKS[intent].replace(SEL_NAME, name))
    if memory_hint:
        parts.append(memory_hint)
    parts.extend(remembered(memories, author, name))
    return " ".join(parts)


def remembered(memories: Sequence[RecalledLike], author: str, name: str = SEL_NAME) -> list[str]:
    """The author's recalled facts (permanent and best first), then their own earlier words (episodes),
    oldest first with the day they said them, so a turn and its neighbours read as they were said."""
    out = []
    ordered = sorted((m for m in memories if m.kind != "episode"), key=lambda m: (not m.hard, -m.score))
    facts = "; ".join(m.text.strip()[:MAX_MEMORY_CHARS] for m in ordered if m.text.strip())
    if facts:
        out.append(f"What {name} remembers about {author}: {facts}")
    said = sorted((m for m in memories if m.kind == "episode" and m.text.strip()), key=lambda m: m.said_at or 0.0)
    if said:
        turns = " | ".join(f"({_day(m.said_at)}) {m.text.strip()[:MAX_MEMORY_CHARS]}" for m in said)
        out.append(f"What {author} told {name} before: {turns}")
    return out


def _day(moment: float | None) -> str:
    return "date unknown" if moment is None else datetime.fromtimestamp(moment, tz=UTC).strftime("%d %b %Y")


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
    *,
    persona: str | None = None,
    name: str = SEL_NAME,
    sampling: Sampling = NO_SAMPLING,
) -> PromptPlan:
    """The plan for answering ``message`` after ``history`` (which must not contain it), as ``name`` with
    the owner's ``persona`` (None: SEL's own) and the mode's ``sampling``."""
    turns = with_notes(history, notes)
    head = persona_for(mode, persona, name)
    return PromptPlan(persona=head, turns=(*turns, message), late_note=note, sel_name=name, sampling=sampling)


CHECK_IN_TASK = (
    "The chat has been quiet for a while. Write {name}'s next message: one or two short, friendly lines "
    "checking in on {people}, in {name}'s current mood. Never @-mention anyone."
)
CHECK_IN_TURNS = 12  # the end of the conversation is enough to check in on it
CHECK_IN_PEOPLE = 5


def check_in_note(tone: str, people: Sequence[str], name: str = SEL_NAME) -> str:
    """The late note of a check-in: the tone, then the task, addressed to ``people`` by name (no mentions)."""
    names = [p.replace("@", "").strip()[:32] for p in people[:CHECK_IN_PEOPLE]]
    who = ", ".join(n for n in names if n) or "everyone here"
    return f"{tone} {CHECK_IN_TASK.format(name=name, people=who)}"


def check_in_plan(
    mode: Mode, history: Sequence[Turn], note: str, *, persona: str | None = None, name: str = SEL_NAME
) -> PromptPlan:
    """The plan for a check-in: no message to answer, only the end of the conversation and the note."""
    turns = tuple(history[-CHECK_IN_TURNS:])
    return PromptPlan(persona=persona_for(mode, persona, name), turns=turns, late_note=note, sel_name=name)
