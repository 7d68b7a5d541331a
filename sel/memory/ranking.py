"""How recall orders memories: cosine similarity, nudged by recency and hardness.

Similarity dominates; the nudges only reorder memories that are about equally relevant,
so a fresh or permanent fact wins a near-tie against a stale one.
"""

from __future__ import annotations

from sel.memory.records import Memory

MIN_SIMILARITY = 0.2  # below this MiniLM pairs are unrelated (measured: unrelated sentences <= 0.11)
RECENCY_WEIGHT = 0.1
RECENCY_HALF_LIFE_SECONDS = 30 * 24 * 3600.0
HARD_BONUS = 0.05


def recency(memory: Memory, now: float) -> float:
    """1.0 for a memory changed just now, halving every 30 days."""
    age = max(0.0, now - memory.updated_at)
    return 0.5 ** (age / RECENCY_HALF_LIFE_SECONDS)


def recall_score(similarity: float, memory: Memory, now: float) -> float:
    """The ranking score of ``memory`` for a query it matches with cosine ``similarity``."""
    return similarity + RECENCY_WEIGHT * recency(memory, now) + (HARD_BONUS if memory.hard else 0.0)
