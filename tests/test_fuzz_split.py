"""The message splitter, fuzzed: no piece over the limit, no code fence broken, no text lost."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sel.frontends.discord.split import DISCORD_LIMIT, FENCE, split_for_discord

WORDS = st.sampled_from(["tea", "a", "turtle.", "x" * 300, "```", "```python", "```\n", "\n", "\n\n", " ", "! ", "é"])
PROSE = st.lists(WORDS, max_size=400).map("".join)
ANY_TEXT = st.one_of(PROSE, st.text(max_size=5000))


def fence_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if FENCE.match(line))


def bare(text: str) -> str:
    """The characters that carry text: whitespace and backticks (which the splitter adds) removed."""
    return re.sub(r"[\s`]+", "", text)


def assert_nothing_lost(text: str, pieces: list[str]) -> None:
    """The text appears in the pieces in order; all they may add is a language name per reopened fence."""
    joined = bare("".join(pieces))
    rest = iter(joined)
    assert all(ch in rest for ch in bare(text)), "text was lost or reordered"
    assert len(joined) - len(bare(text)) <= 20 * len(pieces), "the pieces add more than fence languages"


@settings(max_examples=300, deadline=None)
@given(text=ANY_TEXT, limit=st.sampled_from([DISCORD_LIMIT, 300, 80]))
@example(text="teaa" + "x" * 300 + "```tea", limit=80)  # backticks mid-line must not become a fence
@example(text="word " * 30 + "```tea", limit=80)
def test_pieces_fit_keep_every_word_and_close_every_fence(text: str, limit: int) -> None:
    pieces = split_for_discord(text, limit)
    assert all(0 < len(p) <= limit for p in pieces), [len(p) for p in pieces]
    assert_nothing_lost(text, pieces)
    for piece in pieces[:-1]:
        assert fence_lines(piece) % 2 == 0, f"a piece ends inside a code block:\n{piece}"
    if fence_lines(text) % 2 == 0:
        assert fence_lines(pieces[-1]) % 2 == 0 if pieces else True


@settings(max_examples=100, deadline=None)
@given(language=st.text(alphabet=st.characters(blacklist_categories=["Cc", "Zs", "Zl", "Zp"]), max_size=3000))
def test_a_fence_with_a_long_language_line_still_splits_under_the_limit(language: str) -> None:
    text = f"```{language}\n" + "print('hi')\n" * 400 + "```"
    pieces = split_for_discord(text, DISCORD_LIMIT)
    assert all(len(p) <= DISCORD_LIMIT for p in pieces), [len(p) for p in pieces]
    assert_nothing_lost(text, pieces)
