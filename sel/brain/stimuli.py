"""What a message does to SEL's hormones: praise, hostility, excitement, sadness, a mention.

Cheap word and punctuation cues, as pure functions of the text. Time-based events ("ignored",
"long_silence") are found by :func:`idle_events` from the brain's own timestamps.
"""

from __future__ import annotations

import re

IGNORED_AFTER = 15 * 60.0  # SEL asked something and nobody answered for this long
LONG_SILENCE_AFTER = 4 * 3600.0  # no message at all for this long

PRAISE = re.compile(
    r"\b(?:thanks?|thank (?:you|u)|thx|ty|tysm|love (?:you|u|this)|you(?:'re| are) (?:the best|great|awesome|amazing|"
    r"so helpful|a legend)|good bot|great job|well done|nice one|awesome|amazing|brilliant|helpful|ur the best|"
    r"appreciate)\b|❤️|💖|🥰|😍|🙏",
    re.IGNORECASE,
)
HOSTILITY = re.compile(
    r"\b(?:shut up|stfu|stupid|idiot|dumb|useless|hate (?:you|u)|trash bot|bad bot|worthless|"
    r"f+u+c+k+ (?:you|u|off)|screw you|annoying|go away|pathetic)\b|🖕",
    re.IGNORECASE,
)
EXCITEMENT = re.compile(
    r"!{2,}|\b(?:omg|let'?s go+|hype|hyped|can'?t wait|yay+|woo+hoo+|woo+|finally|stoked|so excited|"
    r"got (?:the job|promoted|in)|she said yes|he said yes)\b|🎉|🔥|🥳",
    re.IGNORECASE,
)
SADNESS = re.compile(
    r"\b(?:sad|depressed|lonely|crying|cried|miss (?:my|her|him|them)|rough day|bad day|passed away|died|"
    r"heartbroken|grief|grieving|tired of everything|hate my life|feel(?:ing)? (?:awful|terrible|empty))\b|😢|😞|💔",
    re.IGNORECASE,
)


def message_events(text: str, *, addressed: bool) -> list[str]:
    """Hormone events one message causes, in a fixed order (so replays are deterministic)."""
    events = []
    if addressed:
        events.append("mentioned")
    if PRAISE.search(text):
        events.append("praise")
    if HOSTILITY.search(text):
        events.append("hostility")
    if EXCITEMENT.search(text):
        events.append("excitement")
    if SADNESS.search(text):
        events.append("sadness")
    return events


def idle_events(now: float, last_activity: float | None, unanswered_since: float | None) -> list[str]:
    """Events from time passing: "long_silence" after hours without messages, "ignored" when a
    question in SEL's last reply drew no answer for a while."""
    events = []
    if last_activity is not None and now - last_activity >= LONG_SILENCE_AFTER:
        events.append("long_silence")
    if unanswered_since is not None and now - unanswered_since >= IGNORED_AFTER:
        events.append("ignored")
    return events
