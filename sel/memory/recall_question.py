"""The topic of a question about what the person told SEL: "what did I tell you about my trip?" -> "my trip?".

The frame ("what did I tell you about", "do you remember", "what do you know about") names no topic,
yet it dominates a small embedding model's vector: MiniLM put "I spent the afternoon fixing the fence"
nearer to "what did I tell you about my trip?" (0.30) than the turn about the flight to Kyoto (0.20);
for "my trip" alone the order is right (0.22 against 0.29). Recall embeds the topic; keywords and
time words are read from the whole question. Pure functions.
"""

from __future__ import annotations

import re

_TOLD = r"(?:tell|told|say|said|mention|mentioned|share|shared)"
_FRAMES = [
    rf"(?:what|anything)\s+(?:did|have|had)\s+i\s+(?:ever\s+)?{_TOLD}\s+(?:to\s+)?(?:you\s+)?(?:about|regarding|on)\s+",
    rf"(?:do|can|did)\s+you\s+remember\s+(?:what\s+i\s+{_TOLD}\s+(?:you\s+)?(?:about|regarding)\s+)?",
    r"what\s+do\s+you\s+(?:know|remember)\s+about\s+",
    rf"remind\s+me\s+(?:what\s+i\s+{_TOLD}\s+(?:you\s+)?(?:about|regarding)\s+)?",
]
_LEAD_IN = r"^(?:(?:hey|so|ok|okay|sel|um|hmm)\b[\s,]*)*"
_FRAME = re.compile(_LEAD_IN + "(?:" + "|".join(_FRAMES) + ")", re.IGNORECASE)


def topic_of(query: str) -> str:
    """``query`` without a leading "what did I tell you about"-style frame; the query itself when that
    would leave nothing (or when it has no such frame)."""
    match = _FRAME.match(query)
    if match is None:
        return query
    topic = query[match.end() :].strip()
    return topic if any(ch.isalnum() for ch in topic) else query
