"""Reading consent, its withdrawal and requests to erase out of what a user says.

Only clear statements count, and the three answers are deliberately asymmetric:

* **Consent** must be the user's own plain statement, at the start of a sentence ("you can
  remember stuff about me", "sure, remember things about me", "I'm ok with you
  remembering stuff"). Questions, negations, conditionals ("if you can remember things
  about me that would be creepy"), musing ("I wonder whether ...") and reported speech
  ("my brother said you can ...") are not consent: storing data on a misreading is the
  harm we avoid.
* **Withdrawal** wins over everything and is honoured wherever it appears, even as a polite
  question ("could you stop remembering things about me?"), because stopping is the safe
  side and is undone by opting in again. Only a directly negated phrase ("don't forget about
  me", "never stop remembering me") is not a withdrawal.
* **Erasing** everything stored (the same as `sel memory forget`) cannot be undone, so it
  needs a direct request at the start of a sentence, polite forms allowed: "forget
  everything you know about me", "please delete my data", "could you erase my memories?".
  Every erase request is also a withdrawal. A vaguer "forget about me" only withdraws.

These are pure functions: the store decides what to do with the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What "remembering" can be about: "things about me", "stuff about me", "my info".
_ABOUT_ME = (
    r"(?:(?:any|some|every)?(?:thing|things|stuff|facts?|details?|info|information|data|that|this|it)\s+)?"
    r"(?:about|of|on)\s+me\b"
)
_MY_DATA = r"my\s+(?:data|info|information|details|stuff|facts|memories)\b"
# Stricter for erasing: "delete my stuff" may well be about their Discord messages.
_MY_RECORDS = r"my\s+(?:personal\s+)?(?:data|info|information|details|facts|memories)\b"
_REMEMBER = r"(?:remember|remembering|store|storing|save|saving|keep|keeping|record|recording|memorize|memorise)"
# Consumed after a phrase that is complete without it, so "stuff" is not left over as a "fact".
_OBJECT = rf"(?:\s+(?:{_ABOUT_ME}|{_MY_DATA}|me\b|(?:any|every|some)thing\b|stuff\b|things\b))?"
# Verbs that mean memory on their own ("stop remembering"); "stop recording" or "keep" alone mean other things.
_REMEMBER_ALONE = r"(?:remember|remembering|memorize|memorizing|memorise|memorising)"
# What may be erased: "everything (you know) about me", "my data", "all the stuff you have on me".
_ERASABLE = (
    r"(?:(?:everything|all|anything|what|whatever|the\s+(?:stuff|things|facts|memories|data|info))"
    r"(?:\s+[\w']+){0,5}?\s+(?:about|of|on)\s+me\b"
    r"|(?:all\s+(?:of\s+)?)?" + _MY_RECORDS + r"|everything\s+you\s+(?:know|have|remember|stored?|kept)\b)"
)
# Who may begin a consent or an erase request: "yes,", "ok", "sure", "sel,", "hey sel".
_LEAD_IN = r"^(?:(?:yes|yeah|yep|ok|okay|sure|alright|(?:hey\s+|hi\s+)?sel)\b[\s,.!:-]*)*"
# Polite forms of a request: "please", "can you", "could you please", "i want you to".
_POLITE = (
    r"(?:(?:please|just|also|and)\s+"
    r"|(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?"
    r"|i\s+(?:want|need)\s+(?:you|u)\s+to\s+|i'?d\s+like\s+(?:you|u)\s+to\s+)*"
)

_WITHDRAWAL = [
    rf"\b(?:stop|quit|cease)\s+(?:{_REMEMBER_ALONE}\b{_OBJECT}|{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|me\b|(?:any|every)thing\b))",
    rf"\b(?:don'?t|dont|do\s+not|never|no\s+more)\s+{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|me\b|(?:any|every)thing\b)",
    rf"\bi\s+(?:don'?t|dont|do\s+not|no\s+longer)\s+want\s+(?:you|u)\s+(?:to\s+)?{_REMEMBER}\b{_OBJECT}",
    r"\bi\s+(?:don'?t|dont|do\s+not|no\s+longer)\s+want\s+to\s+be\s+remembered\b",
    rf"\byou\s+(?:can'?t|cannot|can\s+not|may\s+not|must\s+not|mustn'?t|shouldn'?t|should\s+not|"
    rf"are\s+not\s+allowed\s+to|aren'?t\s+allowed\s+to)\s+{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA})",
    rf"\bi(?:'?m|\s+am)\s+(?:not|no\s+longer)\s+(?:ok|okay|fine|happy|comfortable|cool)\s+with\s+you\s+{_REMEMBER}\b{_OBJECT}",
    r"\bi\s+(?:no\s+longer|don'?t|dont|do\s+not)\s+consent\b",
    r"\bi\s+(?:no\s+longer|don'?t|dont|do\s+not)\s+agree\s+to\s+(?:you\s+)?(?:remembering|storing|saving|memory)\b",
    r"\bforget\s+(?:[\w']+\s+){0,5}?about\s+me\b",
    rf"\b(?:forget|delete|erase|wipe|remove|clear|purge)\s+{_ERASABLE}",
    r"\b(?:withdraw|revoke|take\s+back|pull)\s+(?:my\s+)?(?:consent|permission)\b",
    r"\bopt(?:ing)?[\s-]*out\s+of\s+(?:the\s+|your\s+)?(?:memory|memories|remembering|being\s+remembered)\b",
    r"^\s*opt[\s-]*out\s*[.!]?\s*$",
]

_ERASE = rf"{_LEAD_IN}{_POLITE}(?:forget|delete|erase|wipe|remove|clear|purge)\s+{_ERASABLE}"

# Each consent pattern starts the sentence (after a lead-in), so nothing can come before it.
_CONSENT = [
    rf"(?:you|u)(?:\s+(?:can|may|are\s+allowed\s+to|have\s+my\s+(?:permission|consent)\s+to)|'re\s+allowed\s+to)\s+"
    rf"(?:go\s+ahead\s+and\s+)?{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|what\s+i\s+(?:tell|say))",
    rf"(?:please\s+)?(?:feel\s+free\s+to|go\s+ahead\s+and)\s+{_REMEMBER}\s+(?:{_ABOUT_ME}|{_MY_DATA}|what\s+i\s+(?:tell|say))",
    rf"(?:please\s+)?(?:do\s+)?{_REMEMBER}\s+(?:things|stuff|everything|facts|details)\s+about\s+me\b",
    rf"i\s+(?:consent|agree)\s+to\s+(?:you\s+)?(?:remembering|storing|saving|memory|being\s+remembered)\b{_OBJECT}",
    rf"i\s+give\s+(?:you\s+)?(?:my\s+)?(?:permission|consent)\s+to\s+{_REMEMBER}\b{_OBJECT}",
    rf"i(?:'?m|\s+am)\s+(?:ok|okay|fine|happy|cool|good|comfortable)\s+with\s+you\s+{_REMEMBER}\b{_OBJECT}",
    r"(?:i\s+)?opt(?:ing)?[\s-]*in\s+(?:to|for)\s+(?:the\s+|your\s+)?(?:memory|memories|remembering|being\s+remembered)\b",
    r"opt[\s-]*in\s*[.!]?\s*$",
]

_WITHDRAWAL_RE = [re.compile(p) for p in _WITHDRAWAL]
_ERASE_RE = re.compile(_ERASE)
_CONSENT_RE = [re.compile(_LEAD_IN + p) for p in _CONSENT]
_NEGATION_RE = re.compile(r"\b(?:not|never|no)\b|n't\b|\bdont\b|\bcant\b")
# A withdrawal phrase negated right before it ("don't forget about me") says the opposite.
_NEGATED_BEFORE_RE = re.compile(r"(?:\b(?:not|never|dont|wont)|n't)(?:\s+[\w']+){0,3}\s*$")
# Words that make a sentence hypothetical or someone else's: "if", "whether", "my brother said".
_HEDGE_RE = re.compile(
    r"\b(?:if|whether|said|says|saying|told|tells|claims?|wonder|wondering|suppose|imagine|pretend|hypothetically)\b"
)
# Musing that still reads as a request for erasing ("could you delete my data?") but never as consent.
_MUSING_RE = re.compile(r"\b(?:would\s+it|could\s+you|would\s+you)\b")
# "... if you want" leaves a plain statement plain.
_HARMLESS_IF_RE = re.compile(r"\bif\s+(?:you|u)\s+(?:want|like|wish)(?:\s+to)?\b")
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+|;\s*")
_ASKS_TO_REMEMBER_RE = re.compile(
    r"^(?:please\s+)?(?:remember|don'?t\s+forget|never\s+forget|always\s+remember)\b(?!\s+(?:when|the\s+time))"
    r"|\bremember\s+(?:this|that)\s+(?:forever|for\s+me)\b"
)


@dataclass(frozen=True, slots=True)
class ConsentReading:
    """``change``: True (opt-in), False (withdrawal) or None; ``remainder``: the other sentences.

    ``erase`` is True when the user also asked for everything stored about them to be deleted.
    """

    change: bool | None
    remainder: str
    erase: bool = False


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
    erase = _ERASE_RE.search(folded)
    if erase is not None and not _hedged(folded):
        return ConsentReading(False, _cut(sentence, erase), erase=True)
    match = _withdrawal_match(folded)
    if match is not None:
        return ConsentReading(False, _cut(sentence, match))
    if folded.rstrip().endswith("?") or _NEGATION_RE.search(folded) or _hedged(folded) or _MUSING_RE.search(folded):
        return ConsentReading(None, sentence)
    match = _first_match(_CONSENT_RE, folded)
    if match is None:
        return ConsentReading(None, sentence)
    return ConsentReading(True, _cut(sentence, match))


def read_consent(text: str) -> ConsentReading:
    """The message's consent signal (withdrawal wins) and what remains once consent phrases are cut out."""
    change: bool | None = None
    erase = False
    rest: list[str] = []
    for sentence in split_sentences(text):
        reading = sentence_consent(sentence)
        if reading.change is False or (reading.change is True and change is None):
            change = reading.change
        erase = erase or reading.erase
        if reading.remainder:
            rest.append(reading.remainder)
    return ConsentReading(change, " ".join(rest), erase)


def asks_to_remember(text: str) -> bool:
    """Whether the message explicitly asks SEL to remember something ("remember that ...")."""
    return any(_ASKS_TO_REMEMBER_RE.search(fold(s).strip()) for s in split_sentences(text))


def _withdrawal_match(folded: str) -> re.Match[str] | None:
    """The first withdrawal phrase that is not directly negated, or None."""
    for pattern in _WITHDRAWAL_RE:
        for match in pattern.finditer(folded):
            # Only the words since the last comma count: "no, stop remembering me" is a withdrawal.
            before = re.split(r"[,:;\u2013\u2014-]", folded[: match.start()])[-1]
            if not _NEGATED_BEFORE_RE.search(before):
                return match
    return None


def _hedged(folded: str) -> bool:
    return _HEDGE_RE.search(_HARMLESS_IF_RE.sub(" ", folded)) is not None


def _cut(sentence: str, match: re.Match[str]) -> str:
    """The sentence without the matched phrase ("" when nothing meaningful is left)."""
    rest = (sentence[: match.start()] + " " + sentence[match.end() :]).strip(" \t,;:-\u2013\u2014")
    return rest if any(c.isalnum() for c in rest) else ""


def _first_match(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match is not None:
            return match
    return None
