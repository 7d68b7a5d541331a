"""Word error rate: how far a transcript is from what was said, after normalising case and punctuation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_APOSTROPHES = re.compile(r"['’]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# Unambiguous contractions only: Whisper writes "you're" for "you are" and the other way round,
# which is no error. "'s" and "'d" stay as they are ("it's" may be "it is" or "it has").
_CONTRACTIONS = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
)


def normalize_words(text: str) -> list[str]:
    """Lower-case words, contractions spelled out, punctuation removed.

    "Isn't it?" -> ["is", "not", "it"]; "well-known" -> ["well", "known"].
    """
    text = text.lower().replace("’", "'")
    for pattern, expansion in _CONTRACTIONS:
        text = pattern.sub(expansion, text)
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text)).split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Substitutions + deletions + insertions turning ``reference`` into ``hypothesis`` (Levenshtein on words)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Total word edits over total reference words, across (reference, hypothesis) pairs."""
    errors = 0
    words = 0
    for reference, hypothesis in pairs:
        ref = normalize_words(reference)
        errors += edit_distance(ref, normalize_words(hypothesis))
        words += len(ref)
    if words == 0:
        raise ValueError("the references hold no words; a word error rate needs at least one")
    return errors / words
