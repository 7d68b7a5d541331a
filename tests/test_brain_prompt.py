"""The PromptPlan layout: stable persona, conversation, and per-turn notes last."""

from __future__ import annotations

from dataclasses import dataclass

from sel.brain import prompt
from sel.brain.modes import get_mode
from sel.brain.mood import MOODS
from sel.brain.style import ReplyShape
from sel.domain import Turn
from sel.llm.prompt import TranscriptFormat

PLAIN = ReplyShape(lowercase=False, emoji_budget=2, length_factor=1.0, guidance="")


@dataclass(frozen=True)
class Memory:
    text: str
    score: float
    tags: tuple[str, ...] = ()
    hard: bool = False
    kind: str = "fact"
    said_at: float | None = None


def test_persona_depends_only_on_the_mode():
    casual = prompt.persona_for(get_mode("casual"))
    assert casual == prompt.persona_for(get_mode("casual"))
    assert casual != prompt.persona_for(get_mode("deep_focus"))
    assert casual.startswith(prompt.PERSONA)


def test_late_note_puts_tone_first_and_memories_last():
    tone = prompt.tone_line(MOODS["cheerful"], ReplyShape(True, 0, 0.6, "write in all lowercase, like they do"))
    assert tone == "SEL feels cheerful: warm and upbeat; no emoji; write in all lowercase, like they do."
    note = prompt.late_note(
        tone,
        intent="memory",
        author="ana",
        memory_hint="consent granted",
        memories=[Memory("likes tea", 0.4), Memory("sister is called Ana", 0.3, hard=True)],
    )
    assert note.startswith(tone)
    assert note.index(prompt.TASKS["memory"]) < note.index("consent granted") < note.index("What SEL remembers")
    assert note.endswith("What SEL remembers about ana: sister is called Ana; likes tea"), "hard facts come first"


def test_sel_turns_get_back_the_tone_they_were_written_under():
    history = [Turn("ana", "hi"), Turn("SEL", "hello ana!", from_sel=True), Turn("bo", "yo")]
    plan = prompt.build_plan(
        get_mode("casual"), history, Turn("ana", "how are you"), "now-note", {"hello ana!": "old tone"}
    )
    assert [t.note for t in plan.turns] == ["", "old tone", "", ""]
    assert plan.turns[-1] == Turn("ana", "how are you")
    assert plan.late_note == "now-note"


def test_the_next_prompt_starts_with_the_previous_prompt_and_reply():
    # What llama.cpp reuses: last turn's prompt + reply must be a prefix of this turn's prompt.
    fmt = TranscriptFormat()
    mode = get_mode("casual")
    tone = prompt.tone_line(MOODS["calm"], PLAIN)
    first = prompt.build_plan(mode, [], Turn("ana", "hi sel"), tone, {})
    reply = "hey ana, good to see you"
    second = prompt.build_plan(
        mode,
        [Turn("ana", "hi sel"), Turn("SEL", reply, from_sel=True)],
        Turn("ana", "what's new?"),
        prompt.tone_line(MOODS["cheerful"], PLAIN),
        {reply: tone},
    )
    before = fmt.render(first).text + " " + reply
    after = fmt.render(second).text
    assert after.startswith(before), f"prefix broken:\n{before!r}\nvs\n{after!r}"
