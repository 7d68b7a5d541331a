"""Mood: a label read off the hormone levels, and what it does to SEL's tone.

The first rule that matches wins:

    sleepy     melatonin >= 0.6 and adrenaline < 0.5
    tense      cortisol >= 0.6 and adrenaline >= 0.5
    irritated  cortisol >= 0.55 and testosterone >= 0.5
    excited    dopamine >= 0.7 and adrenaline >= 0.5
    cheerful   dopamine >= 0.6 and serotonin >= 0.5
    tender     estrogen >= 0.6
    down       serotonin <= 0.35 or dopamine <= 0.3
    calm       otherwise

Each mood brings a tone line for the prompt and a change to the emoji budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from sel.brain.hormones import HORMONES, HormoneState


@dataclass(frozen=True)
class Mood:
    """A named mood with its effect on replies."""

    name: str
    tone: str
    emoji_shift: int


MOODS: dict[str, Mood] = {
    mood.name: mood
    for mood in (
        Mood("sleepy", "drowsy and mellow; short, soft sentences", -1),
        Mood("tense", "on guard; stay calm and kind, set boundaries politely", -2),
        Mood("irritated", "a little curt but still polite", -2),
        Mood("excited", "energetic and enthusiastic", 1),
        Mood("cheerful", "warm and upbeat", 1),
        Mood("tender", "gentle and caring; acknowledge feelings first", 0),
        Mood("down", "a bit subdued, still kind", -1),
        Mood("calm", "calm and friendly", 0),
    )
}


def mood_of(state: HormoneState) -> Mood:
    """The mood these levels express."""
    lv = state.levels
    if lv["melatonin"] >= 0.6 and lv["adrenaline"] < 0.5:
        return MOODS["sleepy"]
    if lv["cortisol"] >= 0.6 and lv["adrenaline"] >= 0.5:
        return MOODS["tense"]
    if lv["cortisol"] >= 0.55 and lv["testosterone"] >= 0.5:
        return MOODS["irritated"]
    if lv["dopamine"] >= 0.7 and lv["adrenaline"] >= 0.5:
        return MOODS["excited"]
    if lv["dopamine"] >= 0.6 and lv["serotonin"] >= 0.5:
        return MOODS["cheerful"]
    if lv["estrogen"] >= 0.6:
        return MOODS["tender"]
    if lv["serotonin"] <= 0.35 or lv["dopamine"] <= 0.3:
        return MOODS["down"]
    return MOODS["calm"]


def mood_report(state: HormoneState) -> str:
    """A text view for `/mood` and `!mood`: the mood and a bar per hormone."""
    mood = mood_of(state)
    lines = [f"mood: {mood.name} ({mood.tone})"]
    for name in HORMONES:
        level = state.levels[name]
        bar = "#" * round(level * 20)
        lines.append(f"{name:<12} {level:4.2f} {bar:<20}")
    return "\n".join(lines)
