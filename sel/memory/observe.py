"""Taking in one message from a user: consent changes, erase requests, last-seen time and facts worth keeping.

Facts are stored only with consent, and secrets (passwords, PINs, card numbers, keys) never.
The result carries a reply hint, so SEL's answer says what really happened ("saved", "already
known", "not kept: that looks like a password").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sel.memory import consent as consent_rules
from sel.memory.consent_book import has_consent, set_consent
from sel.memory.core import StoreCore
from sel.memory.extraction import Fact, extract_facts, fact_from_text, is_secret, mentions_secret, without_secrets
from sel.memory.lifecycle import forget_on_request, touch
from sel.memory.records import MAX_TEXT_CHARS, ObserveResult, Outcome, clean_text
from sel.memory.writes import draft, store_drafts

log = logging.getLogger(__name__)

LlmExtract = Callable[[str], list[str]]  # text -> fact sentences, from a model
MAX_LLM_FACTS = 5

CONSENT_GIVEN_HINT = (
    "The user just allowed you to remember things about them. Acknowledge it briefly; they can say "
    '"stop remembering things about me" at any time.'
)
CONSENT_WITHDRAWN_HINT = (
    "The user asked you to stop remembering things about them. Confirm briefly that nothing new will be stored "
    'and that saying "forget everything you know about me" erases what is already kept.'
)
FORGOTTEN_HINT = (
    "The user asked you to forget everything about them. It is done: everything stored about them has been "
    "deleted and nothing new will be stored. Confirm briefly; they can opt in again whenever they like."
)
SECRET_NOT_KEPT_HINT = (
    "The user asked you to remember what looks like a password, PIN, card number or key. You never store those, "
    "so it was not kept. Tell them briefly, and suggest a password manager instead."
)
NOT_OPTED_IN_HINT = (
    "The user asked you to remember something, but they have not allowed you to remember things about them, "
    'so nothing was stored. Tell them briefly they can say "you can remember stuff about me" to opt in.'
)
# What an explicit "remember ..." request did, so the reply says what really happened.
REMEMBERED_HINT = "You saved this to memory, as the user asked: {texts}. Confirm briefly."
ALREADY_KNOWN_HINT = "You already remembered this, so nothing new was stored: {texts}. Say so briefly."
UPDATED_HINT = "You replaced what you remembered, as the user asked: {changes}. Confirm the change briefly."


def observe(
    core: StoreCore, llm_extract: LlmExtract | None, user_id: str, text: str, tags: Sequence[str], now: float
) -> ObserveResult:
    """What one message does to memory (see MemoryStore.observe)."""
    reading = consent_rules.read_consent(clean_text(text))
    if reading.erase:
        forget_on_request(core, user_id)
        return ObserveResult(False, [], FORGOTTEN_HINT, forgotten=True)
    hint = ""
    if reading.change is not None:
        set_consent(core, user_id, reading.change, now)
        hint = CONSENT_GIVEN_HINT if reading.change else CONSENT_WITHDRAWN_HINT
    asked = reading.change is None and consent_rules.asks_to_remember(reading.remainder)
    if asked and mentions_secret(reading.remainder):
        hint = SECRET_NOT_KEPT_HINT  # whatever else the message holds, the secret is what needs an answer
    if not has_consent(core, user_id):
        if asked and not hint:
            hint = NOT_OPTED_IN_HINT
        return ObserveResult(reading.change, [], hint)
    touch(core, user_id, now)
    outcomes = _store_facts(core, llm_extract, user_id, reading.remainder, tags, now)
    if asked and not hint:
        hint = told(outcomes)
    return ObserveResult(reading.change, outcomes, hint)


def told(outcomes: Sequence[Outcome]) -> str:
    """The reply hint for an explicit "remember ...": what was stored, updated or already known."""
    parts = []
    stored = [o.memory.text for o in outcomes if o.action == "stored"]
    known = [o.memory.text for o in outcomes if o.action == "duplicate"]
    changes = [f'"{o.previous_text}" is now "{o.memory.text}"' for o in outcomes if o.action == "updated"]
    if stored:
        parts.append(REMEMBERED_HINT.format(texts=_quoted(stored)))
    if changes:
        parts.append(UPDATED_HINT.format(changes="; ".join(changes)))
    if known:
        parts.append(ALREADY_KNOWN_HINT.format(texts=_quoted(known)))
    return " ".join(parts)


def _store_facts(
    core: StoreCore, llm_extract: LlmExtract | None, user_id: str, text: str, tags: Sequence[str], now: float
) -> list[Outcome]:
    """Store the facts in ``text``, leaving out its secrets (nothing is stored if consent went meanwhile)."""
    kept = without_secrets(text)
    facts = _unique_facts(extract_facts(kept) + _llm_facts(llm_extract, kept))
    drafts = [draft(fact, tags) for fact in facts]
    return store_drafts(core, user_id, drafts, now, require_consent=False) if drafts else []


def _llm_facts(llm_extract: LlmExtract | None, text: str) -> list[Fact]:
    if llm_extract is None or len(text.split()) < 3:
        return []
    try:
        lines = llm_extract(text)
    except Exception:  # the extractor is a model call: any failure falls back to the rule-based facts
        log.warning("LLM fact extraction failed; keeping only the rule-based facts", exc_info=True)
        return []
    facts = []
    for line in list(lines)[:MAX_LLM_FACTS]:
        if isinstance(line, str) and 0 < len(line.strip()) <= MAX_TEXT_CHARS and not is_secret(line):
            facts.append(fact_from_text(line.strip()))
    return facts


def _unique_facts(facts: list[Fact]) -> list[Fact]:
    seen: set[str] = set()
    out = []
    for fact in facts:
        key = fact.text.lower()
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


def _quoted(texts: Sequence[str]) -> str:
    return ", ".join(f'"{text}"' for text in texts)
