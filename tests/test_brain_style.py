"""Style mirroring: learning how a user writes, and restyling SEL's reply without breaking code."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sel.brain.protected import protected_spans
from sel.brain.restyle import StreamRestyler, restyle
from sel.brain.style import ReplyShape, StyleProfile, count_emoji, observe, shape

LOWERCASE_FAN = [
    "hey whats up",
    "lol yeah i saw that",
    "ok but like why tho",
    "idk man, sounds fake",
    "brb getting food",
]
FORMAL_WRITER = [
    "Good evening. I was wondering whether you could help me plan a trip to Lisbon in May.",
    "Thank you. I would prefer museums over nightlife, and I will be travelling with my mother.",
    "Could you also suggest a few restaurants that serve vegetarian dishes near the river?",
    "That is very helpful. I appreciate the detailed answer and will book the hotel tomorrow.",
]
EMOJI_LOVER = ["omg yes 😍😍", "that's so cute 🥺💖", "hahaha 😂😂😂", "love it ✨", "gm 🌞☕"]


def learn(messages: list[str]) -> StyleProfile:
    profile = StyleProfile()
    for text in messages:
        profile = observe(profile, text)
    return profile


def test_lowercase_writer_gets_lowercase_short_replies():
    profile = learn(LOWERCASE_FAN)
    assert profile.lowercase > 0.7 and profile.trusted
    reply_shape = shape(profile, emoji_budget=2)
    assert reply_shape.lowercase
    assert reply_shape.emoji_budget == 0, "they never use emoji"
    assert reply_shape.length_factor < 1
    assert "lowercase" in reply_shape.guidance and "short" in reply_shape.guidance


def test_formal_writer_keeps_capitals_and_normal_length():
    profile = learn(FORMAL_WRITER)
    reply_shape = shape(profile, emoji_budget=2)
    assert not reply_shape.lowercase
    assert reply_shape.emoji_budget == 0
    assert reply_shape.length_factor == 1.0
    assert reply_shape.guidance == "no exclamation marks"


def test_long_messages_invite_a_fuller_answer():
    essay = " ".join(FORMAL_WRITER)
    assert "fuller answer" in shape(learn([essay] * 3), emoji_budget=0).guidance


def test_emoji_lover_gets_an_extra_emoji():
    profile = learn(EMOJI_LOVER)
    assert profile.emoji >= 1.0
    assert shape(profile, emoji_budget=2).emoji_budget == 3


def test_a_new_user_is_not_mirrored_yet():
    profile = learn(LOWERCASE_FAN[:2])
    assert not profile.trusted
    assert shape(profile, emoji_budget=2) == ReplyShape(False, 2, 1.0, "")


def test_style_moves_gradually_when_the_user_changes():
    profile = learn(LOWERCASE_FAN)
    after_one = observe(profile, "Okay, Let Me Write Properly Now.")
    assert 0.5 < after_one.lowercase < profile.lowercase, "one message should nudge, not flip, the average"


def test_code_and_links_do_not_count_as_style():
    profile = learn(LOWERCASE_FAN)
    pasted = observe(profile, "```py\nprint('HELLO WORLD')\n```\nhttps://Example.com/README")
    assert pasted == profile, "a message with only code and a link teaches nothing about style"


def test_emoji_counting_handles_sequences():
    assert count_emoji("👍🏽 🇩🇪 👨‍👩‍👧 ❤️ 1️⃣") == 5
    assert count_emoji("no emoji here :) <3") == 0


LOWER = ReplyShape(lowercase=True, emoji_budget=1, length_factor=1.0, guidance="")


def test_lowercasing_never_touches_code_links_mentions_or_quotes():
    reply = (
        "Sure! Use `MyClass.Run()` like this:\n"
        "```Python\nResult = MyClass.Run(Mode='FAST')\n```\n"
        "> Quoted Line Stays\n"
        "Docs: https://Example.com/Docs?Page=A, ask <@123> or @BobTheBuilder. Thanks I Hope It Helps."
    )
    out = restyle(reply, LOWER)
    assert out.startswith("sure! use `MyClass.Run()` like this:")
    assert "```Python\nResult = MyClass.Run(Mode='FAST')\n```" in out
    assert "> Quoted Line Stays" in out
    assert "https://Example.com/Docs?Page=A," in out
    assert "<@123>" in out and "@BobTheBuilder" in out
    assert out.endswith("thanks i hope it helps.")


def test_lowercasing_never_touches_quotations_or_double_backtick_code():
    reply = 'He Said "THIS IS Quoted", She Said “KEEP Me”, Run ``Echo `Tick` OK`` Now.'
    out = restyle(reply, LOWER)
    assert out == 'he said "THIS IS Quoted", she said “KEEP Me”, run ``Echo `Tick` OK`` now.', out


def test_apostrophes_and_lone_quote_marks_do_not_protect_anything():
    out = restyle('It’S A 6" Board, Isn’T It?\nNext ‘LINE’', LOWER)
    assert out == 'it’s a 6" board, isn’t it?\nnext ‘line’', out


def test_streaming_holds_back_an_open_quotation_until_it_closes():
    restyler = StreamRestyler(LOWER)
    shown = restyler.feed('He Said "THIS IS ')
    assert shown == "he said ", f"text after an unclosed quote mark was released as {shown!r}"
    shown += restyler.feed('Quoted" Ok ')
    assert shown == 'he said "THIS IS Quoted" ok '
    shown += restyler.finish()
    assert shown == 'he said "THIS IS Quoted" ok '


def test_emoji_beyond_the_budget_are_dropped():
    out = restyle("Great job 🎉 you did it 🥳 so proud 💖!", LOWER)
    assert out == "great job 🎉 you did it so proud !"


def test_an_unclosed_fence_protects_to_the_end():
    out = restyle("Here:\n```\nKEEP This", LOWER)
    assert out == "here:\n```\nKEEP This"


def test_streaming_holds_back_a_half_written_link_until_it_is_complete():
    restyler = StreamRestyler(LOWER)
    shown = restyler.feed("See HTTPS://EXAMPLE.COM/A")
    assert shown == "see "
    shown += restyler.feed("BC Now")
    shown += restyler.finish()
    assert shown == "see HTTPS://EXAMPLE.COM/ABC now"


def test_streaming_waits_for_a_fence_that_might_be_opening():
    restyler = StreamRestyler(LOWER)
    shown = restyler.feed("Code:\n``")
    assert "`" not in shown
    shown += restyler.feed("`\nABC\n```\nDone")
    shown += restyler.finish()
    assert shown == "code:\n```\nABC\n```\ndone"


REPLY_PIECES = st.lists(
    st.sampled_from(
        [
            "Hello ",
            "World",
            " ",
            "\n",
            "`",
            "``",
            "```",
            "Code()",
            "https://X.Y/Z",
            "<@99>",
            "@Name",
            "> Quote",
            '"',
            "“",
            "”",
            "'",
            "Don’t",
            "🎉",
            "👍🏽",
            "!",
            "İ",
            "ß",
            "Ok.",
        ]
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@example(pieces=["``", "Hello ", "`"], cuts=[8], budget=0)  # a backtick pair that only closes later
@example(pieces=["`", "```", "```", "Hello ", "`"], cuts=[13], budget=0)  # seven backticks: a fence, then one
@example(pieces=['"', "Hello ", "World", '"'], cuts=[7], budget=0)  # a quotation that only closes later
@given(
    pieces=REPLY_PIECES, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8), budget=st.integers(0, 2)
)
def test_streamed_restyling_equals_restyling_the_whole_reply(pieces, cuts, budget):
    text = "".join(pieces)
    reply_shape = ReplyShape(lowercase=True, emoji_budget=budget, length_factor=1.0, guidance="")
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    restyler = StreamRestyler(reply_shape)
    streamed = "".join(restyler.feed(chunk) for chunk in chunks) + restyler.finish()
    assert streamed == restyle(text, reply_shape)


@settings(max_examples=200, deadline=None)
@given(pieces=REPLY_PIECES)
def test_protected_text_comes_out_unchanged(pieces):
    text = "".join(pieces)
    out = restyle(text, ReplyShape(lowercase=True, emoji_budget=99, length_factor=1.0, guidance=""))
    assert len(out) == len(text), "lowercasing must keep every character's position"
    for start, end in protected_spans(text):
        assert out[start:end] == text[start:end]


def test_profile_round_trips_through_stored_data():
    profile = learn(EMOJI_LOVER)
    assert StyleProfile.from_dict(profile.to_dict()) == profile
    assert StyleProfile.from_dict({"lowercase": "loud", "messages": -3}) == StyleProfile()
