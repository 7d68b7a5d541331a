"""When two memory texts state the same fact: the store's duplicate rule.

Embeddings alone cannot decide it: they put facts that differ in one number, name, place or
date above any useful similarity threshold. Here the words decide (sel.memory.details) and
the cosine only confirms (see :func:`same_fact`). A pure function, no model.
"""

from __future__ import annotations

from collections import Counter

from sel.memory.details import read

NEAR_DUPLICATE_SIMILARITY = 0.88  # measured: paraphrases 0.89-0.97; "my cat/dog is called Tom" 0.86


def same_fact(a: str, b: str, cosine: float) -> bool:
    """Whether memory texts ``a`` and ``b`` (embedding cosine ``cosine``) state the same fact.

    The rule, strictest first:

    1. The same content words in the same order (see sel.memory.details.Reading): the same fact, whatever
       the cosine. This is a restatement that differs only in case, punctuation or filler:
       "oh, btw, I have a cat" and "I have a cat." are one fact.
    2. Different content words: different facts, whatever the cosine. Above all a different
       number, name, place or date ("trip 5" / "trip 6", "Lisbon" / "Porto", "May 3" / "May 4")
       is never merged; neither is a changed word ("I love cats" / "I hate cats").
    3. The same words in another order: the same fact only if the details (numbers, names,
       dates) come in the same order ("Tom is older than Ann" is not "Ann is older than Tom")
       and the embeddings agree (cosine >= NEAR_DUPLICATE_SIMILARITY).

    A text with no content words at all (only filler) is the same as another only when both
    read the same case-folded.
    """
    first, second = read(a), read(b)
    if not first.words or not second.words:
        return " ".join(a.casefold().split()) == " ".join(b.casefold().split())
    if first.words == second.words:
        return True
    if cosine < NEAR_DUPLICATE_SIMILARITY:
        return False  # rule 3 needs the embeddings to agree, and rule 2 says no anyway; cheaper first
    if Counter(first.words) != Counter(second.words):
        return False
    details = first.details | second.details
    in_order = [w for w in first.words if w in details] == [w for w in second.words if w in details]
    return in_order and cosine >= NEAR_DUPLICATE_SIMILARITY
