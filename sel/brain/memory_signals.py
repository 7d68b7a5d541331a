"""Memory evidence for the router: requests to remember or forget, questions about the author,
consent and opt-out phrases, each a weighted :class:`~sel.brain.evidence.Signal`."""

from __future__ import annotations

import re

from sel.brain.evidence import Signal, dedupe

# ---- memory ------------------------------------------------------------------------------

# An imperative at the start of a sentence: "remember…", "sel, pls remember…", "can you note that…".
_LEAD_IN = (
    r"(?:^|[.!?\n;]\s*|,\s*)(?:(?:hey|hi|yo|ok|okay|so|and|also|oh|btw)[,!]?\s+)*(?:sel\b[,:!]?\s*)?"
    r"(?:(?:pls|please|plz|can you|could you|can u|would you|will you|i want you to|i need you to|"
    r"i'?d like you to|i would like you to)\s+)?"
)
MEMORY_PATTERNS: tuple[tuple[re.Pattern[str], float, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), weight, reason)
    for pattern, weight, reason in (
        (
            _LEAD_IN + r"(?:remember|rmb|memori[sz]e|keep in mind|don'?t forget|do not forget|note)\b"
            r"(?!\s+(?:when|the time|to|how)\b)",
            2.5,
            "asks SEL to remember",
        ),
        (_LEAD_IN + r"save this\b", 2.5, "asks SEL to save something"),
        (
            _LEAD_IN + r"(?:forget|wipe|erase|delete|clear)\b(?!\s+(?:it|about it|this|that\b(?! i| my)))",
            2.5,
            "asks SEL to forget",
        ),
        (
            r"\b(?:delete|wipe|erase|clear|remove)\b.{0,25}\b(?:my data|your memory|memories|about me|on me|of me)\b",
            2.5,
            "asks SEL to delete what it knows",
        ),
        (r"\b(?:what|where|who|when|how)\b.{0,30}\b(?:my|i)\b.{0,25}\bagain\s*\?", 2.0, "asks SEL to recall"),
        (r"\bwhat (?:do|did) you (?:know|remember|have)\b.{0,20}\b(?:about )?me\b", 3.0, "asks what SEL knows"),
        (r"\bwhat (?:have you|did you) (?:stored?|saved?|kept)\b", 3.0, "asks what SEL stored"),
        (r"\b(?:tell me )?what you know about me\b", 3.0, "asks what SEL knows"),
        (r"\b(?:do |did )?you (?:still )?remember (?:my|what|where|when|who|which|how|me|the name)\b", 2.5, "recall"),
        (r"\bdo you know (?:my|what my|where i|who i|when my)\b", 2.5, "asks about the author"),
        (
            r"\b(?:what|who|when|where|which)(?:'s|s| is| are| was| were)? my\b"
            r"(?!\s+(?:code|script|program|function|bug|error|problem|phone|keys?)\b)",
            2.0,
            "asks about the author",
        ),
        (r"\bwhat did i (?:say|tell|mention|share)\b", 2.5, "asks what the author said"),
        (r"\bwhat did we (?:talk|chat|speak) about\b", 2.5, "asks what SEL remembers"),
        (r"\byou know my\b|\byou know (?:who|where|what) i\b", 2.0, "asks about the author"),
        (r"\b(?:you can|you may|feel free to|i'?m ok with you|ok to)\s+(?:remember|store|save|keep)\b", 3.0, "consent"),
        (
            r"\b(?:fine|ok|okay|cool|happy|good)\s+with\s+you\s+(?:remembering|storing|saving|keeping)\b",
            3.0,
            "consent",
        ),
        (r"\b(?:do|did) you (?:still )?remember\s*\?+\s*$", 2.5, "asks SEL to recall"),
        (r"\bi consent\b|\bcan you remember (?:things|stuff|anything)\b", 3.0, "consent"),
        (
            r"\bstop (?:remembering|storing|saving)\b|\b(?:don'?t|do not) want you to (?:remember|store)\b",
            3.0,
            "opt-out",
        ),
        (r"\bbet you forgot\b|\baccording to you\b", 1.0, "asks about the author"),
    )
)


SLANG = tuple(
    (re.compile(rf"\b{short}\b", re.IGNORECASE), long)
    for short, long in (("u", "you"), ("ya", "you"), ("ur", "your"), ("abt", "about"), ("bout", "about"))
)


def expand_slang(text: str) -> str:
    """Spell out chat shorthand ("what do u know abt me") so one pattern covers both spellings."""
    for pattern, long in SLANG:
        text = pattern.sub(long, text)
    return text


def memory_signals(text: str) -> list[Signal]:
    """Requests about what SEL remembers or forgets about the author."""
    text = expand_slang(text)
    return dedupe([Signal(weight, reason) for pattern, weight, reason in MEMORY_PATTERNS if pattern.search(text)])
