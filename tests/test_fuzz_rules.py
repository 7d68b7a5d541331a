"""The brain's pure rules, fuzzed: routing, priority and style take any text without crashing and
keep their promises (a known intent, a bounded score, finite style averages)."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sel.brain import priority, router, style
from sel.domain import AttachmentInfo, IncomingMessage

INTENTS = {"general", "code", "memory", "vision"}
TEXT = st.one_of(
    st.text(max_size=3000),
    st.lists(
        st.sampled_from(
            [
                "code:",
                "chat:",
                "```py",
                "def f():",
                "remember",
                "sel",
                "SEL",
                "<@123>",
                "@bob",
                "?",
                "!",
                "http://x.png",
                "😀",
                "\u200b",
                "\x00",
                "import os",
                "my name is",
                "\n",
                " ",
            ]
        ),
        max_size=60,
    ).map(" ".join),
)
ATTACHMENTS = st.lists(
    st.builds(AttachmentInfo, filename=st.text(max_size=40), content_type=st.text(max_size=30), size=st.integers()),
    max_size=4,
).map(tuple)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, attachments=ATTACHMENTS)
def test_any_message_routes_to_a_known_intent_with_a_bounded_confidence(text, attachments) -> None:
    route = router.route(text, attachments)
    assert route.intent in INTENTS
    assert 0.0 <= route.confidence <= 1.0 and route.reason
    assert route.text in text, "the routed text is the message, less a forcing prefix"


@settings(max_examples=300, deadline=None)
@example(text="@bob", attachments=(), flags=(False, False, False), since=None, name="SEL")  # every penalty at once
@given(
    text=TEXT,
    attachments=ATTACHMENTS,
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    since=st.one_of(st.none(), st.floats(allow_nan=False)),
    name=st.text(min_size=1, max_size=20),
)
def test_any_message_gets_a_bounded_priority(text, attachments, flags, since, name) -> None:
    mentioned, is_dm, reply_to_sel = flags
    msg = IncomingMessage("u1", "alice", "c1", text, attachments, mentioned, is_dm, reply_to_sel)
    found = priority.assess(msg, router.route(text, attachments), sel_name=name, seconds_since_reply=since)
    assert 0 <= found.score <= 100 and found.reason
    assert found.addressed or not (mentioned or is_dm or reply_to_sel)
    assert found.addressed or found.score <= priority.UNADDRESSED_CAP, "only addressed messages score above the cap"
    assert priority.should_answer(found, 50) in (True, False)


stored_value = st.one_of(st.floats(), st.integers(), st.text(max_size=5), st.none(), st.booleans())


@settings(max_examples=300, deadline=None)
@given(
    stored=st.dictionaries(
        st.sampled_from(["lowercase", "emoji", "exclamation", "length", "messages", "other"]), stored_value
    ),
    texts=st.lists(TEXT, max_size=8),
    budget=st.integers(min_value=-5, max_value=10),
)
@example(stored={"length": float("inf")}, texts=["hello there"], budget=1)  # inf - inf is NaN, for ever after
def test_style_from_any_stored_profile_and_messages_stays_finite(stored, texts, budget) -> None:
    profile = style.StyleProfile.from_dict(stored)
    for text in texts:
        profile = style.observe(profile, text)
    values = (profile.lowercase, profile.emoji, profile.exclamation, profile.length)
    assert all(math.isfinite(v) and v >= 0 for v in values), f"a style average went bad: {profile}"
    shaped = style.shape(profile, budget)
    assert shaped.emoji_budget >= 0 and shaped.length_factor > 0
