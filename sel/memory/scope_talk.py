"""Reading "you can mention this anywhere" and "keep that between us" out of what a person says.

A person widens where their memories may come back ("you can mention this anywhere", "it's
not a secret") or narrows it to DMs with them ("keep that between us", "only in DMs", "don't
mention this in the server"). The request is about what they just told SEL: the facts of the
same message, or else those of their previous message (see sel.memory.observe). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sel.memory.scopes import ANY, DM

_IT = r"(?:this|that|it|these|those|them)"
_SHARE = r"(?:mention|bring\s+up|talk\s+about|share|say|repeat|tell\s+(?:people|others|anyone))"
_SHARE_IT = rf"(?:{_SHARE}\s+{_IT}|bring\s+{_IT}\s+up|tell\s+(?:people|others|anyone)(?:\s+about\s+{_IT})?)"
_NOT = r"(?:don'?t|dont|do\s+not|never|please\s+don'?t)"
_PUBLIC = (
    r"(?:(?:the\s+|a\s+|any\s+|other\s+)?(?:servers?|guilds?|channels?|public)"
    r"|publicly|in\s+front\s+of\s+(?:people|others))"
)

_WIDEN = [
    rf"\b(?:you\s+can|you\s+may|feel\s+free\s+to|it'?s\s+(?:fine|ok|okay)\s+to)\s+{_SHARE_IT}\s+"
    r"(?:anywhere|everywhere|in\s+(?:any|every|other)\s+(?:server|channel)s?|with\s+anyone|publicly)\b",
    rf"\b{_IT}(?:'s|\s+is|\s+are)\s+not\s+(?:a\s+)?secrets?\b",
]
_NARROW = [
    rf"\b(?:keep|let'?s\s+keep)\s+{_IT}\s+(?:just\s+)?(?:between\s+(?:us|you\s+and\s+me)|private|secret|to\s+yourself)\b",
    r"\b(?:just|only)\s+between\s+(?:us|you\s+and\s+me)\b",
    rf"\bonly\s+(?:{_SHARE_IT}\s+)?in\s+(?:our\s+|my\s+)?(?:dms?|direct\s+messages|private)\b",
    rf"\b{_NOT}\s+{_SHARE_IT}\s+(?:in|on|to|with)\s+{_PUBLIC}",
    rf"\b{_NOT}\s+{_SHARE_IT}\s+publicly\b",
]
_WIDEN_RE = [re.compile(p, re.IGNORECASE) for p in _WIDEN]
_NARROW_RE = [re.compile(p, re.IGNORECASE) for p in _NARROW]


@dataclass(frozen=True, slots=True)
class ScopeRequest:
    """``scope`` is "any" (widen) or "dm" (narrow), None when the message asks neither; ``remainder``
    is the message without the request (what is left to remember)."""

    scope: str | None
    remainder: str


def read_scope_request(text: str) -> ScopeRequest:
    """Whether ``text`` widens or narrows where its (or the previous message's) facts may come back.

    Narrowing wins when a message seems to ask both: keeping something private is the safe side.
    """
    for scope, patterns in ((DM, _NARROW_RE), (ANY, _WIDEN_RE)):
        for pattern in patterns:
            if pattern.search(text):
                return ScopeRequest(scope, _without(text, patterns))
    return ScopeRequest(None, text)


def _without(text: str, patterns: list[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub(" ", text)
    return " ".join(text.split()).strip(" ,;:-")
