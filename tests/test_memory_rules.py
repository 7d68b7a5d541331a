"""The pure rules of memory: reading consent, extracting facts, expiry and ranking."""

from __future__ import annotations

import pytest

from sel.memory.consent import asks_to_remember, read_consent
from sel.memory.extraction import extract_facts, fact_from_text, keywords
from sel.memory.ranking import recall_score
from sel.memory.records import Memory
from sel.memory.retention import SOFT_TTL_SECONDS, expires_at, is_expired

DAY = 24 * 3600.0


@pytest.mark.parametrize(
    "text",
    [
        "you can remember stuff about me",
        "You can remember things about me!",
        "please remember things about me",
        "Feel free to remember what I tell you",
        "I'm ok with you remembering stuff",
        "I consent to you remembering things",
        "opt in",
        "sure, you may remember my info",
    ],
)
def test_clear_consent_is_read_as_opt_in(text):
    assert read_consent(text).change is True, f"{text!r} is a clear opt-in"


@pytest.mark.parametrize(
    "text",
    [
        "stop remembering things about me",
        "Could you stop remembering stuff about me?",
        "don't remember anything about me",
        "I don't want you to remember anything",
        "you can't remember stuff about me",
        "forget everything about me",
        "I withdraw my consent",
        "I opt out of memory",
        "I'm not ok with you remembering things",
        "you can remember stuff about me. actually no, stop remembering things about me",
    ],
)
def test_withdrawal_is_read_as_opt_out_and_wins(text):
    assert read_consent(text).change is False, f"{text!r} withdraws consent"


@pytest.mark.parametrize(
    "text",
    [
        "can you remember things about me?",
        "do you remember stuff about me?",
        "I remember things about my childhood",
        "my turtle is called Shelly",
        "remember that my turtle is Shelly",
        "I love you",
        "",
    ],
)
def test_questions_and_ordinary_talk_change_nothing(text):
    assert read_consent(text).change is None, f"{text!r} is not a consent statement"


def test_consent_phrase_is_cut_out_leaving_the_facts_of_the_same_message():
    reading = read_consent("You can remember things about me, I'm a nurse. My turtle is called Shelly.")
    assert reading.change is True
    assert reading.remainder == "I'm a nurse. My turtle is called Shelly."


def test_explicit_requests_to_remember_are_recognised():
    assert asks_to_remember("remember that my dog is called Rex")
    assert asks_to_remember("ok. Never forget: I hate olives")
    assert not asks_to_remember("do you remember when we met?")
    assert not asks_to_remember("my dog is called Rex")


@pytest.mark.parametrize(
    ("text", "stored", "slot", "hard"),
    [
        ("I'm a nurse", "I'm a nurse", "job", False),
        ("my turtle is called Shelly", "My turtle is called Shelly", "name-of:turtle", False),
        ("I have a turtle named Shelly", "I have a turtle named Shelly", "name-of:turtle", False),
        ("oh btw my name is Dana", "My name is Dana", "name", True),
        ("I live in Paris.", "I live in Paris", "home", False),
        ("I just moved to Berlin!", "I just moved to Berlin", "home", False),
        ("remember that my locker code is 4312", "My locker code is 4312", "my:locker code", False),
        ("remember this forever: my sister is called Mia", "My sister is called Mia", "name-of:sister", True),
        ("My birthday is June 3rd, remember that forever.", "My birthday is June 3rd", "birthday", True),
        ("I'm allergic to peanuts", "I'm allergic to peanuts", None, True),
        ("my favourite colour is blue", "My favourite colour is blue", "favorite:color", False),
        ("I really love jazz", "I really love jazz", None, False),
        ("Remember: the wifi password is hunter2", "The wifi password is hunter2", None, False),
    ],
)
def test_self_statements_become_facts_with_their_slot(text, stored, slot, hard):
    facts = extract_facts(text)
    assert [(f.text, f.slot, f.hard) for f in facts] == [(stored, slot, hard)]


@pytest.mark.parametrize(
    "text",
    [
        "Am I a nurse?",
        "I'm not a nurse",
        "my day is going badly",
        "I'm a bit tired",
        "I love it",
        "lol my cat is sleeping today",
        "Do you remember when we talked?",
        "remember that.",
        "what's up",
        "hello there",
    ],
)
def test_questions_negations_and_passing_moods_are_not_kept(text):
    assert extract_facts(text) == [], f"{text!r} should not become a memory"


def test_every_fact_in_a_message_is_extracted_once():
    facts = extract_facts("I live in Paris. I'm a nurse! I live in Paris.")
    assert [f.text for f in facts] == ["I live in Paris", "I'm a nurse"]


def test_text_stored_as_given_still_gets_a_slot_for_contradictions():
    assert fact_from_text("I moved to Berlin").slot == "home"
    assert fact_from_text("the wifi password is hunter2").slot is None
    assert fact_from_text("anything at all", hard=True).hard


def test_keywords_skip_stopwords_and_keep_names():
    assert keywords("My turtle is called Shelly and she loves lettuce") == ["turtle", "shelly", "loves", "lettuce"]


def memory(hard: bool, updated_at: float) -> Memory:
    return Memory("m1", "u1", "text", (), hard, updated_at, updated_at, label=0)


def test_soft_memories_expire_fourteen_days_after_the_user_was_last_seen():
    soft = memory(hard=False, updated_at=0.0)
    assert expires_at(soft, last_seen=10 * DAY) == 10 * DAY + SOFT_TTL_SECONDS
    assert not is_expired(soft, last_seen=10 * DAY, now=23.9 * DAY)
    assert is_expired(soft, last_seen=10 * DAY, now=24 * DAY)


def test_hard_memories_never_expire():
    hard = memory(hard=True, updated_at=0.0)
    assert expires_at(hard, last_seen=0.0) is None
    assert not is_expired(hard, last_seen=0.0, now=1e12)


def test_ranking_prefers_similarity_then_freshness_and_permanence():
    fresh, stale = memory(False, updated_at=100 * DAY), memory(False, updated_at=0.0)
    permanent = memory(True, updated_at=0.0)
    now = 100 * DAY
    assert recall_score(0.8, stale, now) > recall_score(0.6, fresh, now), "similarity dominates"
    assert recall_score(0.7, fresh, now) > recall_score(0.7, stale, now)
    assert recall_score(0.7, permanent, now) > recall_score(0.7, stale, now)
