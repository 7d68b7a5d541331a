"""Taking in one message from a user: consent changes, erase requests (of everything, or of one fact),
last-seen time and facts worth keeping.

Facts are stored only with consent, and secrets (passwords, PINs, card numbers, keys) never.
Given the message's conversation, the turn itself is kept too, as an episode (sel.memory.episodes).
What is stored gets the scope of where it was said, or the person's preference, or what the message
asks ("keep that between us": sel.memory.scope_talk, scope_book). The result carries a reply hint,
so SEL's answer says what really happened ("saved", "already known", "not kept: that looks like
a password").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from sel.errors import InputError
from sel.memory import consent as consent_rules
from sel.memory.consent_book import has_consent, set_consent
from sel.memory.core import StoreCore
from sel.memory.episodes import episode_text
from sel.memory.extraction import (
    Fact,
    extract_facts,
    fact_from_text,
    is_secret,
    keywords,
    mentions_secret,
    without_secrets,
)
from sel.memory.forget_request import read_forget_requests
from sel.memory.lifecycle import delete_memory, forget_on_request, touch
from sel.memory.matching import clear_match, echoes, find
from sel.memory.records import MAX_TEXT_CHARS, ObserveResult, Outcome, clean_text, normalize_tags
from sel.memory.scope_book import last_told, preference, rescope
from sel.memory.scope_talk import read_scope_request
from sel.memory.scopes import ANY, DM, scope_for
from sel.memory.writes import Draft, draft, store_drafts

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
FORGOT_ONE_HINT = "As the user asked, you deleted this from your memory of them: {texts}. Confirm it briefly."
NOTHING_TO_FORGET_HINT = (
    "The user asked you to forget {texts}, but nothing you remember about them clearly matches, so nothing was "
    "deleted. Say so briefly and ask them to say exactly which fact to forget."
)
WIDENED_HINT = (
    "As the user asked, what they just told you may now come back anywhere, not only where they said it. "
    "Confirm briefly."
)
NARROWED_HINT = (
    "As the user asked, what they just told you will only come back in private DMs with them, never in a "
    "server. Confirm briefly."
)
NOTHING_TO_RESCOPE_HINT = (
    "The user asked you to keep something private or to share it, but you have nothing they told you to apply "
    "that to. Say so briefly."
)
FORGET_CANDIDATES = 5  # memories a forget request is matched against (the best must stand out among them)


def observe(
    core: StoreCore,
    llm_extract: LlmExtract | None,
    user_id: str,
    text: str,
    tags: Sequence[str],
    now: float,
    *,
    where: str | None = None,
    channel: str | None = None,
) -> ObserveResult:
    """What one message does to memory (see MemoryStore.observe)."""
    reading = consent_rules.read_consent(clean_text(text))
    if reading.erase:
        forget_on_request(core, user_id)
        return ObserveResult(False, [], FORGOTTEN_HINT, forgotten=True)
    # "forget that my cat is Tom": a data right like the full erase, so it needs no consent; the
    # request itself is left out of what is stored.
    request = read_forget_requests(reading.remainder)
    forgotten_one, forget_hint = forget_described(core, user_id, request.about)
    reading = replace(reading, remainder=request.remainder)
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
        return ObserveResult(reading.change, [], _joined(forget_hint, hint), forgotten_one=forgotten_one)
    touch(core, user_id, now)
    outcomes, scope_hint = _store_told(core, llm_extract, user_id, reading.remainder, tags, now, where, channel)
    hint = hint or scope_hint
    if asked and not hint:
        hint = told(outcomes)
    return ObserveResult(reading.change, outcomes, _joined(forget_hint, hint), forgotten_one=forgotten_one)


def forget_described(core: StoreCore, user_id: str, about: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """Delete, for each description, the user's memory it clearly matches; return the deleted texts and the
    reply hint. A description that matches nothing clearly deletes nothing: a wrong guess would erase a fact."""
    forgotten: list[str] = []
    unmatched: list[str] = []
    for what in about:
        matches = find(core, user_id, what, FORGET_CANDIDATES)
        best = clear_match(matches)
        if best is None:
            unmatched.append(what)
            continue
        for match in (best, *echoes(matches, best)):
            try:
                deleted = delete_memory(core, user_id, match.memory.id)
            except InputError:  # already deleted by an earlier request in the same message
                continue
            if match is best:
                forgotten.append(deleted.text)
    parts = [FORGOT_ONE_HINT.format(texts=_quoted(forgotten))] if forgotten else []
    if unmatched:
        parts.append(NOTHING_TO_FORGET_HINT.format(texts=_quoted(unmatched)))
    return tuple(forgotten), " ".join(parts)


def told(outcomes: Sequence[Outcome]) -> str:
    """The reply hint for an explicit "remember ...": what was stored, updated or already known."""
    outcomes = [o for o in outcomes if o.memory.kind == "fact"]  # the turn itself is kept quietly
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


def _store_told(
    core: StoreCore,
    llm_extract: LlmExtract | None,
    user_id: str,
    text: str,
    tags: Sequence[str],
    now: float,
    where: str | None,
    channel: str | None,
) -> tuple[list[Outcome], str]:
    """Store what ``text`` tells, scoped as the person prefers or asks in it; (outcomes, reply hint).

    "Keep that between us" / "you can mention this anywhere" is about this message's facts, or, when it
    holds none, about what the person told SEL last (among what may come back here).
    """
    request = read_scope_request(text)
    earlier = last_told(core, user_id, where) if request.scope is not None else []
    scope = request.scope or scope_for(where, preference(core, user_id))
    outcomes = _store_facts(core, llm_extract, user_id, request.remainder, tags, now, scope, channel)
    if request.scope is None:
        return outcomes, ""
    has_facts = any(o.memory.kind == "fact" for o in outcomes)
    targets = [o.memory.id for o in outcomes] + ([] if has_facts else [m.id for m in earlier])
    rescope(core, user_id, targets, request.scope)  # a fact already kept elsewhere is narrowed too
    if not targets:
        return outcomes, NOTHING_TO_RESCOPE_HINT
    return outcomes, NARROWED_HINT if request.scope == DM else WIDENED_HINT


def _store_facts(
    core: StoreCore,
    llm_extract: LlmExtract | None,
    user_id: str,
    text: str,
    tags: Sequence[str],
    now: float,
    scope: str = ANY,
    channel: str | None = None,
) -> list[Outcome]:
    """Store the facts in ``text``, leaving out its secrets (nothing is stored if consent went meanwhile),
    and with a ``channel`` the turn itself as an episode: one embedding pass for all of them."""
    kept = without_secrets(text)
    facts = _unique_facts(extract_facts(kept) + _llm_facts(llm_extract, kept))
    drafts = [draft(fact, tags, scope=scope) for fact in facts]
    said = episode_text(text, tuple(tags)) if channel is not None else None
    if said is not None and not any(_same_words(said, fact.text) for fact in facts):  # else the fact says it all
        episode_tags = normalize_tags(["episode", *tags, *keywords(said)])
        drafts.append(Draft(said, episode_tags, False, None, scope=scope, kind="episode", channel=channel))
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


def _same_words(one: str, other: str) -> bool:
    return one.casefold().rstrip(".!?") == other.casefold().rstrip(".!?")


def _joined(*hints: str) -> str:
    return " ".join(hint for hint in hints if hint)


def _quoted(texts: Sequence[str]) -> str:
    return ", ".join(f'"{text}"' for text in texts)
