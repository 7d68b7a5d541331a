"""Reading consent and its withdrawal out of what a user says.

Only clear statements count. Consent must be a plain, un-negated statement ("you can
remember stuff about me"); a question ("can you remember things about me?") is not
consent. Withdrawal wins over everything and is honoured even when phrased as a
polite question ("could you stop remembering things about me?"), because erring
towards privacy is the safe side. These are pure functions: the store decides what
to do with the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What "remembering" can be about: "things about me", "stuff about me", "my info".
_ABOUT_ME = (
    r"(?:(?:any|some|every)?(?:thing|things|stuff|facts?|details?|info|information|data|that|this|it)\s+)?"
    r"(?:about|of|on)\s+me\b"
)
_MY_DATA = r"my\s+(?:data|info|information|details|stuff|facts)\b"
_REMEMBER = r"(?:remember|remembering|store|storing|save|saving|keep|keeping|record|recording|memorize|memorise)"

_WITHDRAWAL = [
    rf"\b(?:stop|quit|cease)\s+{_REMEMBER}\b(?:\s+(?:{_ABOUT_ME}|{_MY_DATA}|(?:any|every)thing))?",
    rf"\b(?:don'?t|do\s+not|never|no\s+more)\s+{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|(?:any|every)thing\b)",
    rf"\bi\s+(?:don'?t|do\s+not|no\s+longer)\s+want\s+you\s+to\s+{_REMEMBER}\b",
    rf"\byou\s+(?:can'?t|cannot|can\s+not|may\s+not|must\s+not|mustn'?t|shouldn'?t|should\s+not|"
    rf"are\s+not\s+allowed\s+to|aren'?t\s+allowed\s+to)\s+{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA})",
    rf"\bi(?:'?m|\s+am)\s+(?:not|no\s+longer)\s+(?:ok|okay|fine|happy|comfortable|cool)\s+with\s+you\s+{_REMEMBER}",
    r"\bforget\s+(?:(?:everything|all|anything|what\s+you\s+know)\s+)?about\s+me\b",
    r"\b(?:withdraw|revoke|take\s+back|pull)\s+(?:my\s+)?(?:consent|permission)\b",
    r"\bopt(?:ing)?[\s-]*out\s+of\s+(?:the\s+|your\s+)?(?:memory|memories|remembering|being\s+remembered)\b",
    r"^\s*opt[\s-]*out\s*[.!]?\s*$",
]

_CONSENT = [
    rf"\byou\s+(?:can|may|could|are\s+allowed\s+to|have\s+my\s+(?:permission|consent)\s+to)\s+"
    rf"(?:go\s+ahead\s+and\s+)?{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|what\s+i\s+(?:tell|say))",
    rf"\b(?:feel\s+free\s+to|go\s+ahead\s+and)\s+{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|what\s+i\s+(?:tell|say))",
    rf"^(?:please\s+)?(?:do\s+)?{_REMEMBER}\s+(?:things|stuff|everything|facts|details)\s+about\s+me\b",
    r"\bi\s+(?:consent|agree)\s+to\s+(?:you\s+)?(?:remembering|storing|saving|memory|being\s+remembered)\b",
    rf"\bi(?:'?m|\s+am)\s+(?:ok|okay|fine|happy|cool|good|comfortable)\s+with\s+you\s+{_REMEMBER}\b",
    r"\bopt(?:ing)?[\s-]*in\s+(?:to|for)\s+(?:the\s+|your\s+)?(?:memory|memories|remembering|being\s+remembered)\b",
    r"^\s*opt[\s-]*in\s*[.!]?\s*$",
]

_WITHDRAWAL_RE = [re.compile(p) for p in _WITHDRAWAL]
_CONSENT_RE = [re.compile(p) for p in _CONSENT]
_NEGATION_RE = re.compile(r"\b(?:not|never|no)\b|n't\b|\bdont\b|\bcant\b")
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+|;\s*")
_ASKS_TO_REMEMBER_RE = re.compile(
    r"^(?:please\s+)?(?:remember|don'?t\s+forget|never\s+forget|always\s+remember)\b(?!\s+(?:when|the\s+time))"
    r"|\bremember\s+(?:this|that)\s+(?:forever|for\s+me)\b"
)


@dataclass(frozen=True, slots=True)
class ConsentReading:
    """``change``: True (opt-in), False (withdrawal) or None; ``remainder``: the other sentences."""

    change: bool | None
    remainder: str


def fold(text: str) -> str:
    """Lower-case with straight apostrophes; same length as ``text``, so match positions carry over."""
    folded = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    # A few characters change length when lower-cased (e.g. "İ"); fall back to the original then.
    return folded if len(folded) == len(text) else text


def split_sentences(text: str) -> list[str]:
    """Sentences of a message, each keeping its closing punctuation."""
    return [s.strip() for s in _SENTENCE_SPLIT_RE.split(text) if s and s.strip()]


def sentence_consent(sentence: str) -> ConsentReading:
    """The sentence's consent signal, and the sentence with the consent phrase cut out.

    "You can remember things about me, I'm a nurse." gives consent and leaves "I'm a nurse.".
    """
    folded = fold(sentence)
    match = _first_match(_WITHDRAWAL_RE, folded)
    change: bool | None = False
    if match is None:
        if folded.rstrip().endswith("?") or _NEGATION_RE.search(folded):
            return ConsentReading(None, sentence)
        match = _first_match(_CONSENT_RE, folded)
        change = True
    if match is None:
        return ConsentReading(None, sentence)
    rest = (sentence[: match.start()] + " " + sentence[match.end() :]).strip(" \t,;:-\u2013\u2014")
    return ConsentReading(change, rest if any(c.isalnum() for c in rest) else "")


def read_consent(text: str) -> ConsentReading:
    """The message's consent signal (withdrawal wins) and what remains once consent phrases are cut out."""
    change: bool | None = None
    rest: list[str] = []
    for sentence in split_sentences(text):
        reading = sentence_consent(sentence)
        if reading.change is False or (reading.change is True and change is None):
            change = reading.change
        if reading.remainder:
            rest.append(reading.remainder)
    return ConsentReading(change, " ".join(rest))


def asks_to_remember(text: str) -> bool:
    """Whether the message explicitly asks SEL to remember something ("remember that ...")."""
    return any(_ASKS_TO_REMEMBER_RE.search(fold(s).strip()) for s in split_sentences(text))


def _first_match(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match is not None:
            return match
    return None
