"""Intent routing: which expert answers a message — ``code``, ``vision``, ``memory`` or ``general``.

The router adds up cheap, explainable signals; no model is called.

Forced routes
    A message starting with ``code:`` goes to the coder model, one starting with ``chat:``
    to the general model; the prefix is stripped from the text the model sees.

Code signals (weights add up; 1.5 or more means code)
    - structure (3.0): a code fence, a stack trace (``Traceback``, ``File "x.py", line 3``,
      ``at pkg.Cls(File.java:14)``), an error line (``TypeError:``, ``npm ERR!``, ``error[E0382]``,
      ``fatal:``, ``undefined reference``), two or more lines that look like code pasted
      without a fence (``def``/``function``/``#include``, lines ending in ``;`` or ``{``,
      assignments, calls, SQL, shell commands); one such line counts 1.5;
    - an attached file with a source-code extension (``.py``, ``.rs``, ``.tsx`` …) or a log (3.0);
    - inline code in backticks, a source file name in the text (``main.py``), a call such as
      ``console.log(x)`` inside a sentence, operators such as ``===`` or ``=>`` (0.75–1.5 each);
    - programming vocabulary: unambiguous terms (``javascript``, ``regex``, ``segfault``,
      ``git``, ``recursion``, "in python" …) count 1.5 each; ambiguous ones (``python``, ``bug``,
      ``code``, ``class``, ``server``, ``script`` …) count 0.75, so one alone is not enough, and
      not at all next to a false friend ("ball python", "code of conduct", "stomach bug",
      "rust on my bike", "java" with coffee, "debugging my life");
    - a technical term asked about as a problem or question ("my program prints None",
      "how do i …", "keeps crashing") adds 0.75.

Vision
    An image attachment (or a link to an image) means vision, unless the text itself carries
    structural code evidence (a pasted trace beside a screenshot is answered from the text).

Memory
    Requests about what SEL remembers: an imperative "remember / don't forget / keep in mind /
    note that / save this" (not "I remember…", "remember when…"), questions about the author
    ("what's my sister's name?", "do you remember my birthday?", "what do you know about me"),
    forget requests ("forget everything about me", "delete my data"; not "forget it") and
    consent phrases ("you can remember stuff about me", "stop remembering").

Precedence: forced prefix > structural code > vision > memory (unless code evidence is stronger) >
code vocabulary > general.

Only the first :data:`SCAN_CHARS` characters are scanned (attachments count whatever the
length): a file attached in Discord is appended to the text, and routing runs on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sel.brain.code_signals import code_hints, code_structure
from sel.brain.evidence import Signal
from sel.brain.memory_signals import memory_signals
from sel.domain import AttachmentInfo, Route

INTENTS = ("code", "vision", "memory", "general")
CODE_THRESHOLD = 1.5
STRUCTURE_THRESHOLD = 2.5  # code evidence strong enough to win over an image or a memory phrase
MEMORY_THRESHOLD = 2.0
# Twice Discord's longest message: typed text is always scanned whole; a 100 KB attached file
# would otherwise take about half a second to route.
SCAN_CHARS = 8000


# ---- forced prefixes --------------------------------------------------------------------

FORCE_PREFIX = re.compile(r"^\s*(code|chat)\s*:\s*", re.IGNORECASE)
FORCED_INTENT = {"code": "code", "chat": "general"}


def split_forced_prefix(text: str) -> tuple[str | None, str]:
    """(forced intent or None, text without the prefix)."""
    match = FORCE_PREFIX.match(text)
    if not match:
        return None, text
    return FORCED_INTENT[match.group(1).lower()], text[match.end() :]


# ---- routing -----------------------------------------------------------------------------

IMAGE_URL = re.compile(r"https?://\S+\.(?:png|jpe?g|gif|webp|bmp)(?:\?\S*)?\b", re.IGNORECASE)


def route(text: str, attachments: Sequence[AttachmentInfo] = ()) -> Route:
    """Classify one message on its first :data:`SCAN_CHARS` characters and its attachments.
    Pure: the same text and attachments always give the same route, whose ``text`` is the
    whole message (less a forcing prefix)."""
    forced, body = split_forced_prefix(text)
    if forced is not None:
        return Route(forced, 1.0, f"forced by the '{text.strip()[:4].lower()}:' prefix", forced=True, text=body)

    head = body[:SCAN_CHARS]
    structure = code_structure(head, attachments)
    hints = code_hints(head)
    memory = memory_signals(head)
    structure_score = _total(structure)
    code_score = structure_score + _total(hints)
    memory_score = _total(memory)
    images = [a for a in attachments if a.is_image]

    if structure_score >= STRUCTURE_THRESHOLD:
        return Route("code", _confidence(code_score), _explain(structure + hints), text=body)
    if images or IMAGE_URL.search(head):
        what = f"{len(images)} image attachment(s)" if images else "an image link"
        return Route("vision", 0.95 if images else 0.8, what, text=body)
    if memory_score >= MEMORY_THRESHOLD and memory_score >= code_score:
        return Route("memory", _confidence(memory_score), _explain(memory), text=body)
    if code_score >= CODE_THRESHOLD:
        return Route("code", _confidence(code_score), _explain(structure + hints), text=body)
    doubt = max(code_score, memory_score)
    reason = "no code, image or memory signals" if doubt == 0 else "too little evidence: " + _explain(hints + memory)
    return Route("general", round(max(0.5, 0.9 - 0.2 * doubt), 2), reason, text=body)


def _total(signals: Sequence[Signal]) -> float:
    return sum(s.weight for s in signals)


def _confidence(score: float) -> float:
    """Evidence at the threshold gives about 0.7; twice that, about 0.9."""
    return round(min(0.99, 0.45 + 0.15 * score), 2)


def _explain(signals: Sequence[Signal]) -> str:
    ordered = sorted(signals, key=lambda s: -s.weight)
    return "; ".join(s.reason for s in ordered[:3])
