"""Personality modes: how SEL talks, how long, with how many emoji, and how readily it speaks up.

Each mode sets persona instructions (part of the stable prompt head), a reply length as a
factor of SEL_MAX_NEW_TOKENS, an emoji budget per reply, and the silence threshold that an
unaddressed message's priority score must reach (see sel.brain.priority). Modes switch at
run time (`/mode NAME` in the terminal); SEL_MODE picks the one SEL starts in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sel.config import MODES
from sel.errors import InputError

CODER_MIN_FACTOR = 2.0  # code answers need room in any mode: at least twice SEL_MAX_NEW_TOKENS


@dataclass(frozen=True)
class Mode:
    """One personality mode."""

    name: str
    instructions: str
    length_factor: float
    emoji_budget: int
    silence_threshold: int

    def max_tokens(self, base: int, slot: str = "general") -> int:
        """Reply budget in tokens for a ``base`` of SEL_MAX_NEW_TOKENS."""
        factor = max(self.length_factor, CODER_MIN_FACTOR) if slot == "coder" else self.length_factor
        return max(16, round(base * factor))


MODE_TABLE: dict[str, Mode] = {
    mode.name: mode
    for mode in (
        Mode(
            "casual",
            "Mode: casual. Relaxed and friendly, like a good friend in a group chat. Short replies, plain words.",
            length_factor=1.0,
            emoji_budget=2,
            silence_threshold=50,
        ),
        Mode(
            "deep_focus",
            "Mode: deep focus. Thoughtful and precise. Explain step by step, give concrete details, skip small talk.",
            length_factor=2.0,
            emoji_budget=0,
            silence_threshold=60,
        ),
        Mode(
            "playful",
            "Mode: playful. Witty and teasing in a kind way; jokes and wordplay are welcome.",
            length_factor=0.75,
            emoji_budget=4,
            silence_threshold=40,
        ),
        Mode(
            "quiet_companion",
            "Mode: quiet companion. Gentle and brief; present but unobtrusive. A few calm words are enough.",
            length_factor=0.5,
            emoji_budget=1,
            silence_threshold=75,
        ),
    )
}
assert tuple(MODE_TABLE) == MODES, "sel.config.MODES and the mode table must list the same modes"


def get_mode(name: str) -> Mode:
    """The mode called ``name`` (case-insensitive); InputError listing the modes otherwise."""
    mode = MODE_TABLE.get(name.strip().lower().replace("-", "_").replace(" ", "_"))
    if mode is None:
        raise InputError(f"unknown mode {name!r}; choose one of: {', '.join(MODE_TABLE)}")
    return mode
