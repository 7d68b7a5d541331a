"""Reading a request to forget one fact out of what a user says ("forget that my cat is Tom").

Only a direct request at the start of a sentence counts, polite forms allowed: "forget that my
cat is Tom", "please forget my cat's name", "could you delete what I told you about my job?".
What is to be forgotten must be about the speaker (it names "my", "I", "me"), so "forget about
work, let's relax" or "forget it" is no request. "don't forget ..." and "did you forget ..." do
not start with the verb, so they are not requests either. Asking to forget *everything* is
sel.memory.consent's to read (it erases the whole user), and it is read first.
Pure functions: the store decides what the description matches (sel.memory.matching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sel.memory.consent import fold, split_sentences
from sel.memory.keyword_index import terms

_REQUEST = re.compile(
    r"^(?:(?:yes|yeah|ok|okay|sure|oh|actually|also|and|hey\s+sel|sel)\b[\s,.!:-]*)*"
    r"(?:(?:please|just|also|and)\s+|(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?"
    r"|i\s+(?:want|need)\s+(?:you|u)\s+to\s+|i'?d\s+like\s+(?:you|u)\s+to\s+)*"
    r"(?:forget|delete|erase|remove)\s+"
    r"(?:(?:the\s+)?(?:fact|memory|thing|bit)\s+(?:that|about)\s+|that\s+|about\s+"
    r"|what\s+i\s+(?:said|told\s+you|wrote|mentioned)\s+(?:about\s+)?)?"
    r"(?P<what>.+)$"
)
# Trailing words that say how, not what: "..., please", "... from your memory", "... anymore".
_TAIL = re.compile(r"(?:[\s,]+(?:please|thanks|thank\s+you|from\s+(?:your\s+)?memory|anymore|any\s+more))+[\s.!?]*$")
_EVERYTHING = re.compile(r"(?:everything|all|anything|whatever)\b")
_ABOUT_SPEAKER = re.compile(r"\b(?:my|i|i'm|im|i've|i'd|me|mine|myself)\b")


@dataclass(frozen=True, slots=True)
class ForgetRequest:
    """``about``: what each request asks to forget, in the user's words; ``remainder``: the other sentences."""

    about: tuple[str, ...]
    remainder: str


def read_forget_requests(text: str) -> ForgetRequest:
    """The message's requests to forget one fact, and the message without them (so they are not stored)."""
    about: list[str] = []
    rest: list[str] = []
    for sentence in split_sentences(text):
        what = _requested(sentence)
        if what:
            about.append(what)
        else:
            rest.append(sentence)
    return ForgetRequest(tuple(about), " ".join(rest))


def _requested(sentence: str) -> str:
    """What the sentence asks to forget, in its own words, or "" when it is no such request."""
    folded = fold(sentence.strip())
    match = _REQUEST.match(folded)
    if match is None:
        return ""
    start = match.start("what")
    what = _TAIL.sub("", folded[start:]).rstrip(" .!?")
    if not _ABOUT_SPEAKER.search(what) or _EVERYTHING.match(what) or not terms(what):
        return ""  # not about the speaker, all of it (consent's to read), or nothing in particular ("me")
    return sentence.strip()[start : start + len(what)]  # the user's own casing: names stay names
