"""Priority, silence and how the mode moves the silence threshold."""

from __future__ import annotations

import pytest

from sel.brain.decision import decide
from sel.brain.modes import MODE_TABLE, get_mode
from sel.brain.priority import assess, names_sel
from sel.brain.router import SCAN_CHARS, route
from sel.domain import AttachmentInfo, IncomingMessage
from sel.errors import InputError


def msg(text: str, **kw) -> IncomingMessage:
    return IncomingMessage(author_id="1", author_name="ana", channel_id="c", text=text, **kw)


def decision_in(mode: str, text: str, **kw):
    return decide(msg(text, **kw), mode=get_mode(mode), vision_available=False)


@pytest.mark.parametrize("text", ["lol", "ok", "brb", "hahaha same", "😂😂"])
@pytest.mark.parametrize("mode", sorted(MODE_TABLE))
def test_low_priority_chatter_gets_silence(mode, text):
    decision = decision_in(mode, text)
    assert decision.priority.level == "low", decision.priority
    assert decision.silent, f"{mode} answered {text!r}"


@pytest.mark.parametrize(
    ("kw", "text", "why"),
    [
        ({"mentioned": True}, "lol", "mentions SEL"),
        ({"is_dm": True}, "ok", "a direct message"),
        ({"reply_to_sel": True}, "brb", "replies to SEL"),
        ({}, "lol Sel", "says SEL's name"),
        ({}, "SEL?", "says SEL's name"),
    ],
)
@pytest.mark.parametrize("mode", sorted(MODE_TABLE))
def test_addressed_messages_are_always_answered(mode, kw, text, why):
    decision = decision_in(mode, text, **kw)
    assert not decision.silent
    assert (decision.priority.level, decision.priority.score) == ("high", 100)
    assert decision.priority.reason == why


@pytest.mark.parametrize(("text", "named"), [("hey sel", True), ("selfie time", False), ("@sel hi", True)])
def test_name_counts_only_as_a_whole_word(text, named):
    assert names_sel(text) is named


def test_quiet_companion_answers_least():
    # A medium-priority room question: playful and casual speak up, quiet_companion does not.
    text = "anyone know a good dentist in berlin?"
    answered = {mode: not decision_in(mode, text).silent for mode in MODE_TABLE}
    assert answered == {"casual": True, "deep_focus": True, "playful": True, "quiet_companion": False}, answered
    thresholds = {name: mode.silence_threshold for name, mode in MODE_TABLE.items()}
    assert max(thresholds, key=thresholds.get) == "quiet_companion"


def test_room_greeting_is_medium_and_only_playful_answers():
    answered = {mode: not decision_in(mode, "good morning everyone").silent for mode in MODE_TABLE}
    assert answered == {"casual": False, "deep_focus": False, "playful": True, "quiet_companion": False}


def test_talk_directed_at_someone_else_stays_silent():
    decision = decision_in("playful", "<@42> did you finish the homework?")
    assert decision.silent
    assert "mentions someone else" in decision.priority.reason


def test_following_up_on_sels_answer_raises_priority():
    text = "what about for a big list?"
    cold = assess(msg(text), route(text))
    warm = assess(msg(text), route(text), seconds_since_reply=30.0)
    stale = assess(msg(text), route(text), seconds_since_reply=3600.0)
    assert warm.score - cold.score == 35
    assert stale.score == cold.score
    assert "continues a talk with SEL" in warm.reason


def test_priority_reason_lists_each_signal():
    text = "can someone help? my code throws TypeError: x is undefined"
    priority = assess(msg(text), route(text))
    assert priority.level == "high"
    for part in ("+20 asks the room for help", "+15 a question", "+10 a code request"):
        assert part in priority.reason


def test_decision_picks_the_slot_by_intent():
    assert decision_in("casual", "```py\nprint(1)\n```", mentioned=True).slot == "coder"
    assert decision_in("casual", "remember my sister is Ana", mentioned=True).slot == "general"
    assert decision_in("casual", "how are you", mentioned=True).slot == "general"


def test_image_without_vision_model_gets_a_friendly_canned_reply():
    picture = (AttachmentInfo("cat.jpg", "image/jpeg", 1234),)
    without = decision_in("casual", "look at my cat", attachments=picture, mentioned=True)
    assert without.slot == "general"
    assert without.text and "can't see images" in without.text
    with_vision = decide(
        msg("look at my cat", attachments=picture, mentioned=True), mode=get_mode("casual"), vision_available=True
    )
    assert (with_vision.slot, with_vision.text) == ("vision", None)


def test_why_explains_route_priority_and_outcome():
    explanation = decision_in("quiet_companion", "good morning everyone").explain()
    assert "route: general" in explanation
    assert "priority: medium (score 45)" in explanation
    assert "reply: none — below the quiet_companion threshold" in explanation


def test_modes_set_length_emoji_and_threshold():
    casual, focus, playful, quiet = (get_mode(n) for n in ("casual", "deep_focus", "playful", "quiet_companion"))
    assert focus.max_tokens(128) > casual.max_tokens(128) > playful.max_tokens(128) > quiet.max_tokens(128)
    assert playful.emoji_budget > casual.emoji_budget > focus.emoji_budget == 0
    assert quiet.max_tokens(128, "coder") >= 256, "code answers keep room even in quiet mode"


def test_unknown_mode_lists_the_choices():
    with pytest.raises(InputError) as err:
        get_mode("grumpy")
    assert "casual, deep_focus, playful, quiet_companion" in str(err.value)
    assert get_mode("Deep-Focus").name == "deep_focus"


def test_priority_reads_only_the_start_that_routing_reads():
    assert "asks the room for help" in decision_in("casual", "can anyone help?").priority.reason
    long_text = "notes.\n" * (SCAN_CHARS // 7 + 1) + "can anyone help?"
    reason = decision_in("casual", long_text).priority.reason
    assert "help" not in reason and "question" not in reason, f"priority scanned past {SCAN_CHARS} characters: {reason}"


@pytest.mark.parametrize(
    "text", ["i'm heartbroken today", "feeling so overwhelmed with everything", "my grandpa passed away last week"]
)
def test_distress_raises_priority_with_the_reason_shown(text):
    calm = assess(msg("the weather is normal today"), route("the weather is normal today"))
    upset = assess(msg(text), route(text))
    assert upset.score >= calm.score + 10, (calm, upset)
    assert "sounds distressed" in upset.reason
