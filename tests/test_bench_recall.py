"""`sel bench recall` machinery on a tiny slice of the labelled dialogues (figures, not speed targets)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sel.cli.bench_recall import DIALOGUES, KS, VARIANTS, load_dialogues, run_recall_bench
from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.errors import InputError

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR


def test_the_labelled_set_has_both_splits_and_its_evidence_exists() -> None:
    turns, questions = load_dialogues(DIALOGUES)
    ids = {t.id for t in turns}
    assert {q.split for q in questions} == {"dev", "held_out"}
    assert {q.needs for q in questions} == {"one", "several", "date"}
    assert len({t.speaker for t in turns}) >= 6
    for question in questions:
        assert set(question.evidence) <= ids, question.text
        speakers = {t.speaker for t in turns if t.id in question.evidence}
        assert speakers == {question.speaker}, "evidence is the asker's own turns"


def test_the_bench_reports_recall_and_latency_per_split_and_variant(tmp_path: Path) -> None:
    lines = DIALOGUES.read_text().splitlines()
    tiny = [line for line in lines if orjson.loads(line)["speaker"] in ("ana", "dara")]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(tiny) + "\n")
    result = run_recall_bench(EMBED_DIR, path=path, distractors=3)
    assert result["memories"] > 0
    assert result["rerank"].startswith("unavailable") and result["rerank_checked"], "says why, and what was checked"
    for split in ("dev", "held_out"):
        assert set(result[split]) == {*VARIANTS, "hybrid_rerank"}
        assert result[split]["hybrid_rerank"] == result["rerank"]
        for name in VARIANTS:
            figures = result[split][name]
            assert figures["questions"] == 8
            for k in KS:
                assert 0.0 <= figures[f"recall@{k}"] <= 1.0
            assert figures["recall@1"] <= figures["recall@5"] <= figures["recall@10"]
            assert 0.0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
        assert result[split]["hybrid"]["recall@10"] > 0.0, "with 8 questions over a handful of memories, some hit"


def test_a_malformed_dialogue_line_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "turn"}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:1"):
        load_dialogues(path)
    with pytest.raises(InputError, match="not found"):
        load_dialogues(tmp_path / "missing.jsonl")
