"""The details a text names: numbers, names, places and dates, the words that tell similar facts apart.

Sentence embeddings barely see them: MiniLM puts "carol saw an otter on trip 5" and "... on
trip 6" at cosine 0.98. So the duplicate rule (sel.memory.sameness) compares the words, and
recall gives a memory that names what the query names a lift (:func:`named_share`).
Pure functions, no model.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from sel.memory import keyword_index

# Words that carry no fact: said before or after one, they do not make it a different fact.
_LEADING_FILLER = re.compile(
    r"^(?:(?:oh|ah|um+|uh+|er|well|so|also|and|but|btw|by the way|fyi|hey|hi|ok|okay|yeah|yep|anyway|actually|"
    r"fun fact|just so you know|please|(?:please\s+)?(?:remember|note)(?:\s+that)?)\b[\s,;:!.-]*)+",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(r"(?:[\s,;:!.-]*\b(?:lol|lmao|haha+|btw|fyi|ok|okay|tbh))+[\s,;:!.-]*$", re.IGNORECASE)
_FUNCTION_WORDS = frozenset("a an the i im am is are".split())
# A number (with its decimal, time or date separators), a word (with inner apostrophes), or one other character.
_TOKEN = re.compile(r"\d+(?:[.,:/-]\d+)*(?:st|nd|rd|th)?|[^\W_]+(?:'[^\W_]+)*|\S")
_ORDINAL_SUFFIX = re.compile(r"(?<=\d)(?:st|nd|rd|th)$")
_SENTENCE_END = frozenset(".!?")
_RUN = re.compile(r"[^\W_]+")  # a maximal run of letters and digits: what _mentions' lookarounds bound
_ASCII_NUMBER = re.compile(r"([0-9]+)(?:st|nd|rd|th)?")
_NUMBER_WORDS = dict(
    zip(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split(),
        map(str, range(21)),
        strict=True,
    )
)
_SPELLINGS = {digits: (digits, word) for word, digits in _NUMBER_WORDS.items()}  # "2" is also written "two"
# Recall adds this to a memory naming all the query's details. Measured with "trip 17" as the query: among
# 100 facts that differ only in the trip number the right one is at most 0.04 below the best cosine; among
# facts that differ in other words too, up to about 0.2 below.
NAMED_DETAIL_BONUS = 0.2
# Capitalised only because they start a question or request, so not names.
_QUERY_OPENERS = frozenset(
    """what who whom whose where when why how which do does did is are was were can could would should will
    have has had tell show give list remember recall please my your our any anything something hey hi sel""".split()
)
_CALENDAR = frozenset(
    "january february march april june july august september october november december jan feb mar apr jun jul "
    "aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday".split()
)


@dataclass(frozen=True, slots=True)
class Reading:
    """A text reduced to what makes it a fact.

    ``words``: its content words in order, case-folded, numbers normalised ("two" and "2nd"
    read "2"), without punctuation, filler ("oh, btw") or words like "a", "the", "I", "am".
    ``details``: those of them that name something specific: numbers, dates (and month or
    day names), and names (capitalised other than at the start of a sentence).
    ``openers``: capitalised words that start a sentence, which may be names too ("Ana bakes").
    """

    words: tuple[str, ...]
    details: frozenset[str]
    openers: frozenset[str]


@functools.lru_cache(maxsize=4096)  # the duplicate rule reads a new text against its 8 nearest: once, not 8 times
def read(text: str) -> Reading:
    """The :class:`Reading` of ``text``."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    text = _TRAILING_FILLER.sub("", _LEADING_FILLER.sub("", text.strip()))
    words: list[str] = []
    details: set[str] = set()
    openers: set[str] = set()
    sentence_start = True
    for token in _TOKEN.findall(text):
        if token in _SENTENCE_END:
            sentence_start = True
            continue
        if len(token) == 1 and unicodedata.category(token).startswith("P"):
            continue  # other punctuation separates words but says nothing
        word = _folded(token)
        if word not in _FUNCTION_WORDS:
            words.append(word)
            if _is_detail(token, word, sentence_start):
                details.add(word)
            elif sentence_start and token[0].isupper():
                openers.add(word)
        sentence_start = False
    return Reading(tuple(words), frozenset(details), frozenset(openers))


def query_details(query: str) -> frozenset[str]:
    """The details a recall query names ("trip 17" -> {"17"}; "Ana?" -> {"ana"}); question words are not names."""
    reading = read(query)
    return reading.details | (reading.openers - _QUERY_OPENERS)


def named_share(details: frozenset[str], text: str) -> float:
    """The share of ``details`` (from :func:`query_details`) that ``text`` names, 0.0 to 1.0."""
    if not details:
        return 0.0
    if not _mentions(details).search(_searchable(text)):
        return 0.0  # the common case, decided without reading the text
    return len(details.intersection(_word_set(text))) / len(details)


def searchable(text: str) -> str:
    """``text`` as :func:`mention_starts` searches it: NFKC, case-folded, without apostrophes."""
    return _searchable(text)


def text_keys(text: str) -> frozenset[str]:
    """The keys under which :func:`detail_keys` finds ``text``: its words as :func:`searchable` spells them,
    and each number ("007", "17th") also as "#" and its digits without leading zeros or ordinal ending."""
    keys = set(_RUN.findall(_searchable(text)))
    keys.update(f"#{match[1].lstrip('0') or '0'}" for word in list(keys) if (match := _ASCII_NUMBER.fullmatch(word)))
    return frozenset(keys)


def detail_keys(detail: str) -> tuple[str, ...] | None:
    """The keys (see :func:`text_keys`) a text naming ``detail`` has one of; None when only a scan can tell.

    :func:`_mentions` matches a detail only between characters that are not letters or digits, so a
    detail made of letters and digits alone is always one whole word of the text: a key.
    """
    if not _RUN.fullmatch(detail):
        return None  # "12:30", "3.5": separators inside
    if detail.isdigit():
        return (f"#{detail.lstrip('0') or '0'}", *_SPELLINGS.get(detail, ())[1:]) if detail.isascii() else None
    return (detail,)


def mention_starts(details: frozenset[str], text: str) -> list[int]:
    """Where in ``text`` (from :func:`searchable`, or several joined by newlines) one of ``details`` may be named.

    A text naming a detail (:func:`named_share` above 0) always has a start inside it, so recall can
    test all of a user's memories in one pass over their joined texts instead of one search each.
    """
    return [match.start() for match in _mentions(details).finditer(text)] if details else []


# Recall asks about the same memory texts again and again; these keep the work per text (a few MB at most).
@functools.lru_cache(maxsize=4096)
def _searchable(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("'", "").replace("\u2019", "")


@functools.lru_cache(maxsize=4096)
def _word_set(text: str) -> frozenset[str]:
    return frozenset(read(text).words)


def forget_cached() -> None:
    """Drop the cached readings and keyword indexes of memory texts (after a forget, their texts leave memory too)."""
    _searchable.cache_clear()
    _word_set.cache_clear()
    read.cache_clear()
    keyword_index.forget_cached()


@functools.lru_cache(maxsize=64)
def _mentions(details: frozenset[str]) -> re.Pattern[str]:
    """A quick test for text (case-folded, no apostrophes) that may name one of ``details`` as a word."""
    forms = []
    for detail in sorted(details):
        escaped = re.escape(detail)
        forms.append(rf"0*{escaped}(?:st|nd|rd|th)?" if detail.isdigit() else escaped)
        forms.extend(_SPELLINGS.get(detail, ())[1:])
    return re.compile(rf"(?<![^\W_])(?:{'|'.join(forms)})(?![^\W_])")


def _folded(token: str) -> str:
    word = token.casefold().replace("'", "")
    if word[:1].isdigit():
        word = _ORDINAL_SUFFIX.sub("", word)
        return (word.lstrip("0") or "0") if word.isdigit() else word
    return _NUMBER_WORDS.get(word, word)


def _is_detail(token: str, word: str, sentence_start: bool) -> bool:
    if any(ch.isdigit() for ch in word) or word in _CALENDAR:
        return True
    return token[0].isupper() and not sentence_start  # a name ("May" the month too, unlike "may")
