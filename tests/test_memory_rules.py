"""The pure rules of memory: reading consent, extracting facts, expiry and ranking."""

from __future__ import annotations

import pytest

from sel.memory.consent import asks_to_remember, read_consent
from sel.memory.extraction import extract_facts, fact_from_text, keywords, mentions_secret, without_secrets
from sel.memory.ranking import recall_score
from sel.memory.records import Memory
from sel.memory.retention import SOFT_TTL_SECONDS, expires_at, is_expired

DAY = 24 * 3600.0


# What users say, and what it must mean. Consent must be plain and the speaker's own; withdrawal
# is honoured wherever it appears (the safe side); erasing needs a direct request.
CONSENT = [
    "you can remember stuff about me",
    "You can remember things about me!",
    "please remember things about me",
    "Feel free to remember what I tell you",
    "I'm ok with you remembering stuff",
    "I consent to you remembering things",
    "opt in",
    "sure, you may remember my info",
    "sure, remember things about me",
    "yeah sel you can remember stuff about me",
    "hey sel, you can remember things about me",
    "ok go ahead and remember stuff about me",
    "you have my permission to remember stuff about me",
    "I give you permission to remember things about me",
    "I'm fine with you storing my data",
    "I opt in to memory",
    "you're allowed to remember stuff about me",
    "you can remember stuff about me if you want",
]
WITHDRAWAL = [
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
    "forget everything you know about me",
    "I no longer consent",
    "i dont want you remembering me",
    "delete my data",
    "stop remembering me",
    "please erase my memories",
    "no, stop remembering me",
    "could you please delete my data?",
    "i don't want to be remembered",
    "stop saving stuff about me",
    "wipe everything you know about me",
    "forget about me",
    # Reported, conditional or asked: still honoured, because stopping is the safe side.
    "my brother said stop remembering stuff about me",
    "if you could stop remembering me that'd be great",
    "do you delete my data when i leave?",
]
NO_CHANGE = [
    # reported speech
    "my brother said you can remember stuff about me lol",
    "she says you may remember my info",
    "I told him you can remember things about me",
    "you can remember stuff about me, he said",
    "my friend wants you to remember stuff about me",
    # conditionals and musing
    "if you can remember things about me that would be creepy",
    "I wonder whether you can remember stuff about me",
    "what if you could remember things about me",
    "suppose you could remember stuff about me",
    "would it be ok if you remembered stuff about me",
    # questions
    "can you remember things about me?",
    "do you remember stuff about me?",
    "could you remember stuff about me",
    # negations
    "I don't think you can remember stuff about me",
    "don't forget about me!",
    "never stop remembering me",
    "please don't delete my data",
    "I don't want you to stop remembering stuff about me",
    # ordinary talk that shares words with the phrases
    "i don't agree with you about pizza",
    "I remember things about my childhood",
    "my turtle is called Shelly",
    "remember that my turtle is Shelly",
    "stop recording",
    "I want you to keep going",
    "delete my stuff from the channel",
    "I love you",
    "",
]


@pytest.mark.parametrize("text", CONSENT)
def test_clear_consent_is_read_as_opt_in(text):
    assert read_consent(text).change is True, f"{text!r} is a clear opt-in"


@pytest.mark.parametrize("text", WITHDRAWAL)
def test_withdrawal_is_read_as_opt_out_and_wins(text):
    assert read_consent(text).change is False, f"{text!r} withdraws consent"


@pytest.mark.parametrize("text", NO_CHANGE)
def test_reported_hypothetical_asked_or_negated_consent_changes_nothing(text):
    assert read_consent(text).change is None, f"{text!r} is not a consent statement"


@pytest.mark.parametrize(
    "text",
    [
        "forget everything you know about me",
        "forget everything about me",
        "delete my data",
        "please erase my memories",
        "could you please delete my data?",
        "wipe everything you know about me",
        "can you forget all the stuff you know about me?",
        "sel, forget what you know about me. I'm moving on.",
    ],
)
def test_direct_requests_to_forget_or_delete_ask_for_erasure(text):
    reading = read_consent(text)
    assert reading.change is False and reading.erase, f"{text!r} asks for everything to be erased"


@pytest.mark.parametrize(
    "text",
    [
        "forget about me",  # vague: stop storing, but do not destroy what is kept
        "stop remembering me",
        "I no longer consent",
        "my brother said delete my data",
        "if you forget everything about me i'll cry",
        "do you delete my data when i leave?",
    ],
)
def test_vague_reported_or_conditional_erasure_only_withdraws(text):
    reading = read_consent(text)
    assert reading.change is False and not reading.erase, f"{text!r} must not erase anything, only withdraw"


def test_consent_reading_is_never_consent_for_any_row_of_the_other_tables():
    wrong = [t for t in WITHDRAWAL + NO_CHANGE if read_consent(t).change is True]
    assert wrong == [], f"read as consent: {wrong}"


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
        ("remember that my locker is number 4312", "My locker is number 4312", "my:locker", False),
        ("remember this forever: my sister is called Mia", "My sister is called Mia", "name-of:sister", True),
        ("My birthday is June 3rd, remember that forever.", "My birthday is June 3rd", "birthday", True),
        ("I'm allergic to peanuts", "I'm allergic to peanuts", None, True),
        ("my favourite colour is blue", "My favourite colour is blue", "favorite:color", False),
        ("I really love jazz", "I really love jazz", None, False),
        ("Remember: the wifi network is called Hobbiton", "The wifi network is called Hobbiton", None, False),
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
    assert fact_from_text("the wifi network is called Hobbiton").slot is None
    assert fact_from_text("anything at all", hard=True).hard


def test_only_a_one_sentence_state_takes_a_slot_that_a_newer_fact_replaces():
    assert fact_from_text("My sister is a nurse").slot == "my:sister"
    # Several sentences: replacing the text on a newer fact about one of them would lose the others.
    several = fact_from_text("My sister is a nurse. We hiked the Alps in May.")
    assert (several.slot, several.topic) == (None, "family")
    # An activity has no one current answer ("visiting" must not replace "a nurse").
    for text in ("My sister is visiting in May", "My kids are really loving dinosaurs"):
        fact = fact_from_text(text)
        assert (fact.slot, fact.topic) == (None, "family"), text
    assert fact_from_text("My dog is Bing").slot == "my:dog", "a short name ending in -ing is still a state"
    assert [f.slot for f in extract_facts("My brother is a pilot. My brother is visiting us.")] == ["my:brother", None]


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


@pytest.mark.parametrize(
    "text",
    [
        "my password is hunter2",
        "remember that my password is hunter2",
        "Remember: the wifi password is hunter2",
        "my bank pin is 1234",
        "my PIN number is 0000",
        "my card number is 4111 1111 1111 1111",
        "remember 4111-1111-1111-1111 for me",
        "my cvv is 123",
        "my ssn is 123-45-6789",
        "my social security number is 123456789",
        "my api key is sk-abc123",
        "remember my discord token: mfa.x7Yq2Lm9Nv4Rt8Wz1Ks6Hd3Fg5",
        "my secret key is hush",
        "my private key passphrase is Tr0ub4dor&3",
        "my seed phrase is apple banana cherry",
        "remember this: ghp_4f9aZ2kq8Lw1Xy7Tb3Nc6Vd0Re5",
        "remember that my locker code is 4312",
        "the door code at my flat is 2580",
        "my alarm code is 9999",
    ],
)
def test_secrets_are_never_facts_even_when_asked(text):
    assert extract_facts(text) == [], f"{text!r} holds a secret and must not become a memory"
    assert mentions_secret(text)


def test_secret_sentences_are_dropped_and_the_rest_of_the_message_is_kept():
    text = "My password is hunter2. I live in Paris. My phone number is +44 7700 900123."
    assert [f.text for f in extract_facts(text)] == ["I live in Paris", "My phone number is +44 7700 900123"]
    assert without_secrets(text) == "I live in Paris. My phone number is +44 7700 900123."
