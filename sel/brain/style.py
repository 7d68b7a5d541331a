"""Style mirroring: how a user writes, and how SEL's reply should be shaped to match.

Per user, exponential moving averages (weight 0.25 for the newest message; the first
message sets them) of: writing in
all lowercase (0/1 per message), emoji per message, exclamation marks per message and
message length in characters, measured outside code, links, mentions and quotes. After
three messages the profile is trusted and shapes the reply:

- lowercase >= 0.7: the reply is written in lowercase (prompt guidance, and lowercased as
  it streams — see sel.brain.restyle);
- emoji < 0.15 per message: no emoji; >= 1 per message: one more than the mode allows;
- exclamation < 0.1 per message: none; >= 1: an energetic tone is fine;
- length < 40 characters: one or two short sentences, and a shorter token budget; > 200:
  a fuller answer is welcome.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from sel.brain.protected import outside_spans

ALPHA = 0.25
TRUSTED_AFTER = 3
PROFILE_KIND = "style"

EMOJI = re.compile(
    r"[\U0001F1E6-\U0001F1FF]{2}"  # flags
    r"|[0-9#*]\uFE0F?\u20E3"  # keycaps
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u2B06\u2B07\u2B05\u2B1B\u2B1C\u2934\u2935\u3030\u303D"
    r"\u3297\u3299\u203C\u2049]"
    r"(?:[\uFE0F\U0001F3FB-\U0001F3FF]|\u200D[\U0001F300-\U0001FAFF\u2600-\u27BF\u2640\u2642\u2695\u2696\u2708]\uFE0F?)*"
)


@dataclass(frozen=True)
class StyleProfile:
    """How one user tends to write (moving averages) and how many messages that is based on."""

    lowercase: float = 0.5
    emoji: float = 0.5
    exclamation: float = 0.3
    length: float = 60.0
    messages: int = 0

    @property
    def trusted(self) -> bool:
        return self.messages >= TRUSTED_AFTER

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleProfile:
        """A profile from stored data; unknown keys are ignored, bad values fall back to defaults."""
        base = cls()
        values: dict[str, Any] = {}
        for key in ("lowercase", "emoji", "exclamation", "length"):
            value = data.get(key)
            if isinstance(value, int | float) and 0 <= value < math.inf:  # an infinite average never recovers
                values[key] = float(value)
        count = data.get("messages")
        if isinstance(count, int) and count >= 0:
            values["messages"] = count
        return replace(base, **values)


@dataclass(frozen=True)
class ReplyShape:
    """What the mirrored style asks of one reply."""

    lowercase: bool
    emoji_budget: int
    length_factor: float
    guidance: str


def count_emoji(text: str) -> int:
    return len(EMOJI.findall(text))


def observe(profile: StyleProfile, text: str) -> StyleProfile:
    """The profile after one more message. Messages with no prose (only code or a link) teach nothing."""
    prose = outside_spans(text).strip()
    letters = [c for c in prose if c.isalpha()]
    if not prose:
        return profile
    # The first message sets the averages outright, so a new user is not dragged toward the priors.
    weight = 1.0 if profile.messages == 0 else ALPHA
    lowercase = profile.lowercase
    if len(letters) >= 3:
        lowercase = _ema(profile.lowercase, 1.0 if not any(c.isupper() for c in letters) else 0.0, weight)
    return StyleProfile(
        lowercase=lowercase,
        emoji=_ema(profile.emoji, float(count_emoji(prose)), weight),
        exclamation=_ema(profile.exclamation, float(prose.count("!")), weight),
        length=_ema(profile.length, float(len(prose)), weight),
        messages=profile.messages + 1,
    )


def shape(profile: StyleProfile | None, emoji_budget: int) -> ReplyShape:
    """How to shape a reply for this profile, starting from the mode's and mood's emoji budget."""
    budget = max(0, emoji_budget)
    if profile is None or not profile.trusted:
        return ReplyShape(False, budget, 1.0, "")
    notes = []
    lowercase = profile.lowercase >= 0.7
    if lowercase:
        notes.append("write in all lowercase, like they do")
    if profile.emoji < 0.15:
        budget = 0
    elif profile.emoji >= 1.0:
        budget += 1
    if profile.exclamation < 0.1:
        notes.append("no exclamation marks")
    elif profile.exclamation >= 1.0:
        notes.append("match their energy")
    length_factor = 1.0
    if profile.length < 40:
        notes.append("they write short messages: answer in one or two short sentences")
        length_factor = 0.6
    elif profile.length > 200:
        notes.append("they write at length: a fuller answer is welcome")
    return ReplyShape(lowercase, budget, length_factor, "; ".join(notes))


def _ema(old: float, new: float, weight: float) -> float:
    return old + weight * (new - old)
