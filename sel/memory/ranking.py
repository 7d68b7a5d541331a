"""How recall orders memories: meaning (cosine) fused with keywords (BM25), nudged by details, time, recency, hardness.

Two ways to fuse the dense and keyword rankings were measured on the labelled dialogues
(tests/data/recall_dialogues.jsonl, dev split, `sel bench recall`): a weighted sum of the cosine
and the BM25 score as a share of an ideal match, and reciprocal-rank fusion. :data:`DEFAULT_FUSION`
is the one that measured better. The nudges only reorder memories that are about equally relevant,
so a fresh or permanent fact wins a near-tie against a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sel.memory.details import NAMED_DETAIL_BONUS
from sel.memory.records import Memory

MIN_SIMILARITY = 0.2  # below this MiniLM pairs are unrelated (measured: unrelated sentences <= 0.11)
RECENCY_WEIGHT = 0.1
RECENCY_HALF_LIFE_SECONDS = 30 * 24 * 3600.0
HARD_BONUS = 0.05


@dataclass(frozen=True, slots=True)
class Fusion:
    """How recall blends its signals.

    ``kind``: "dense" (cosine only, as SEL ranked before keywords), "weighted" (cosine plus
    ``keyword_weight`` times the memory's BM25 score as a share of an ideal match) or "rrf"
    (reciprocal-rank fusion of the two rankings, scaled so rank 1 in both is 1.0).
    ``time_bonus`` lifts memories said inside the window the query's time words name;
    ``detail_bonus`` those naming the numbers, names and dates the query names.
    """

    kind: Literal["dense", "weighted", "rrf"] = "weighted"
    keyword_weight: float = 0.1  # dev split: 0.1 / 0.2 / 0.4 gave recall@10 0.896 / 0.854 / 0.854; RRF 0.743
    rrf_k: float = 60.0
    time_bonus: float = 0.3  # dev split: 0.05 / 0.15 / 0.3 gave recall@10 0.701 / 0.736 / 0.812 (weight 0.3)
    detail_bonus: float = NAMED_DETAIL_BONUS


DEFAULT_FUSION = Fusion()
DENSE_ONLY = Fusion(kind="dense", time_bonus=0.0)  # SEL's recall before keywords and time: the baseline


def recency(memory: Memory, now: float) -> float:
    """1.0 for a memory changed just now, halving every 30 days."""
    age = max(0.0, now - memory.updated_at)
    return 0.5 ** (age / RECENCY_HALF_LIFE_SECONDS)


def recall_score(similarity: float, memory: Memory, now: float) -> float:
    """``similarity`` (the fused relevance) nudged by the memory's recency and hardness."""
    return similarity + RECENCY_WEIGHT * recency(memory, now) + (HARD_BONUS if memory.hard else 0.0)


def fused_relevance(
    fusion: Fusion, cosine: dict[int, float], keyword: dict[int, float]
) -> tuple[dict[int, float], dict[int, float]]:
    """(relevance, keyword share) per candidate label: ``cosine`` and BM25 ``keyword`` scores fused per ``fusion``.

    ``keyword`` may lack candidates (no shared word: share 0); every candidate has a cosine.
    """
    share = {label: min(1.0, keyword.get(label, 0.0)) for label in cosine}
    if fusion.kind == "dense":
        return dict(cosine), {label: 0.0 for label in cosine}
    if fusion.kind == "weighted":
        return {label: c + fusion.keyword_weight * share[label] for label, c in cosine.items()}, share
    dense_rank = _ranks(cosine)
    keyword_rank = _ranks({label: s for label, s in keyword.items() if label in cosine and s > 0})
    scale = (fusion.rrf_k + 1.0) / 2.0
    relevance = {
        label: scale
        * (
            1.0 / (fusion.rrf_k + dense_rank[label])
            + (1.0 / (fusion.rrf_k + keyword_rank[label]) if label in keyword_rank else 0.0)
        )
        for label in cosine
    }
    return relevance, share


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    """1-based rank of each label, best score first."""
    ordered = sorted(scores, key=lambda label: scores[label], reverse=True)
    return {label: rank for rank, label in enumerate(ordered, start=1)}
