"""ThinkSplitter: a model's reasoning becomes Thought items and never reply text, however it streams."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sel.domain import Thought
from sel.llm.reasoning import ThinkSplitter

Piece = str | Thought


def split(chunks: list[str], **options: bool) -> list[Piece]:
    splitter = ThinkSplitter(**options)
    out: list[Piece] = []
    for chunk in chunks:
        out += splitter.feed(chunk)
    return out + splitter.finish()


def reply(pieces: list[Piece]) -> str:
    return "".join(p for p in pieces if isinstance(p, str))


def thoughts(pieces: list[Piece]) -> list[str]:
    return [p.text for p in pieces if isinstance(p, Thought)]


def test_plain_text_streams_through_unchanged_and_at_once() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("hello there") == ["hello there"]
    assert splitter.feed(" friend") == [" friend"]
    assert splitter.finish() == []


def test_a_think_block_becomes_one_thought_and_the_answer_stays_text() -> None:
    pieces = split(["<think>I should greet them.</think>\n\nHello!"])
    assert thoughts(pieces) == ["I should greet them."]
    assert reply(pieces) == "Hello!"


def test_tags_split_across_chunks_never_leak_into_the_reply() -> None:
    chunks = ["<", "thi", "nk>plan", " the ", "reply</", "thi", "nk>", "\n", "Sure", ", here", " it is <", "b>"]
    pieces = split(chunks)
    assert thoughts(pieces) == ["plan the reply"]
    assert reply(pieces) == "Sure, here it is <b>"


def test_a_partial_tag_is_held_only_until_it_cannot_be_a_tag() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("a <th") == ["a "]
    assert splitter.feed("ere") == ["<there"]


def test_a_reply_that_starts_inside_the_thought_is_handled_when_the_caller_knows() -> None:
    pieces = split(["step one, ", "step two</think>", "the answer"], start_in_thought=True)
    assert thoughts(pieces) == ["step one, step two"]
    assert reply(pieces) == "the answer"


def test_held_start_turns_into_a_thought_when_a_closing_tag_comes() -> None:
    splitter = ThinkSplitter(hold_start=True)
    assert splitter.feed("the user wants a greeting") == []  # not posted while it may be reasoning
    assert splitter.feed("</think>\n\nHi!") == [Thought("the user wants a greeting"), "Hi!"]
    assert splitter.saw_close


def test_held_start_is_the_reply_when_no_closing_tag_ever_comes() -> None:
    splitter = ThinkSplitter(hold_start=True)
    assert splitter.feed("just an answer") == []
    assert splitter.finish() == ["just an answer"]
    assert not splitter.saw_close


def test_held_start_with_an_explicit_block_streams_the_answer() -> None:
    splitter = ThinkSplitter(hold_start=True)
    assert splitter.feed("<think>hmm</think>ok") == [Thought("hmm"), "ok"]
    assert splitter.feed(" then") == [" then"]


def test_an_empty_block_yields_no_thought() -> None:
    assert split(["<think>\n\n</think>\n\nHello"]) == ["Hello"]


def test_a_reply_cut_off_inside_a_thought_posts_no_reasoning() -> None:
    pieces = split(["<think>still thinking about"])
    assert reply(pieces) == ""
    assert thoughts(pieces) == ["still thinking about"]


def test_a_stray_closing_tag_is_dropped() -> None:
    assert reply(split(["fine</think> thanks"])) == "fine thanks"


@given(
    st.lists(st.sampled_from(["<think>", "</think>", "<", "think", ">", "</", "a", " b", "\n", "<th"]), max_size=12),
    st.data(),
)
def test_how_the_text_is_chunked_never_changes_the_result(parts: list[str], data: st.DataObject) -> None:
    text = "".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    for options in ({}, {"hold_start": True}, {"start_in_thought": True}):
        whole, streamed = split([text], **options), split(chunks, **options)
        assert reply(whole) == reply(streamed), (chunks, options)
        assert "".join(thoughts(whole)) == "".join(thoughts(streamed)), (chunks, options)
        assert "<think>" not in reply(streamed) and "</think>" not in reply(streamed)
