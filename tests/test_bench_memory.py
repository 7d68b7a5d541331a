"""`sel bench memory` end to end on a small workload: import and single-add rates, a measured rebuild, recall p95."""

from __future__ import annotations

from pathlib import Path

from sel.cli.bench_memory import TARGETS, run_memory_bench
from sel.config import DEFAULT_EMBED_DIR, default_models_dir, load_settings

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR


def test_the_bench_measures_imports_single_adds_a_real_rebuild_and_recall_percentiles(tmp_path: Path) -> None:
    settings = load_settings({"SEL_DATA_DIR": str(tmp_path), "SEL_EMBED_MODEL": str(EMBED_DIR)})
    result = run_memory_bench(settings.memory, memories=120, users=4, queries=12, single_adds=6)
    assert result["memories_requested"] == 120 + 6, "four users of 30, and one owning 5 % more"
    assert 115 <= result["memories_stored"] <= 126, "every user's generated memories were imported"
    assert result["insert_per_second"] > 0 and result["import_seconds"] > 0
    assert result["insert_single_per_second"] > 0
    # CPU per memory bounds the rate on any machine: an import costs at least the embedding of its text.
    assert result["import_cpu_ms_per_memory"] > 0 and result["embed_cpu_ms_per_text"] > 0
    assert result["cores"] >= 1
    # The rebuild re-embeds everything the store holds: the imports plus the single adds.
    assert result["memories_before_rebuild"] >= result["memories_stored"]
    assert result["rebuild_memories"] == result["memories_before_rebuild"]
    assert result["rebuild_seconds"] > 0 and result["rebuild_per_second"] > 0
    assert result["rebuild_100k_seconds_at_measured_rate"] > 0
    for key in ("recall_uncached_ms", "recall_cached_ms", "recall_large_user_uncached_ms"):
        figures = result[key]
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"], key
    assert set(result["load_average"]) == {"start", "end"}
    assert set(result["meets_targets"]) == set(TARGETS)
    assert not any(tmp_path.iterdir()), "the benchmark works in its own temp dir, not the data dir"
