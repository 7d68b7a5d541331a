"""`sel bench engine` on a tiny generated GGUF: real servers on loopback, real engines; figures, not speed.

Sampling is greedy, so paths that run the same llama.cpp code on the same request deliver the
same replies: SEL and the direct client on one server, and llama-cpp-python's server and the
in-process engine (one library). A reply cut short (a server interrupting one request for the
next, a stream closed early) shows as a different token count.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sel.cli.bench_engine import PEOPLE, TARGETS, Sizes, run_engine_bench
from sel.cli.bench_servers import find_llama_server, python_server
from sel.config import Settings
from sel.errors import SelError
from tests.cli_runner import run_sel

QUICK = Sizes.quick()
RACE_FIELDS = {"tokens", "tokens_per_s", "ttft_p50_s", "ttft_p95_s", "first_token_s", "last_vs_first_ttft"}


def check_race(figures: dict[str, Any], where: str, tokens: int) -> None:
    assert set(figures) - {"server_tokens", "retried_requests"} == RACE_FIELDS, f"{where}: fields {sorted(figures)}"
    assert figures["tokens"] == tokens, f"{where}: not the same replies ({tokens} tokens expected): {figures}"
    assert figures["tokens_per_s"] > 0, where
    firsts = figures["first_token_s"]
    assert len(firsts) == len(PEOPLE) and all(t > 0 for t in firsts), f"{where}: {firsts}"
    assert min(firsts) <= figures["ttft_p50_s"] <= figures["ttft_p95_s"] <= max(firsts), f"{where}: {figures}"
    assert figures["last_vs_first_ttft"] >= 1.0, where


def check_report(report: dict[str, Any], server: str, *, same_library: bool) -> None:
    json.dumps(report)  # the whole report is plain JSON
    assert report["server"] == server
    assert report["people"] == len(PEOPLE) and report["reply_tokens"] == QUICK.reply_tokens
    assert all(n >= QUICK.prompt_tokens for n in report["prompt_tokens"]), report["prompt_tokens"]
    local = report["in_process"]["tokens"]
    assert local >= len(PEOPLE) * QUICK.reply_tokens, report["in_process"]
    check_race(report["in_process"], "in_process", local)
    for n in (1, len(PEOPLE)):
        part = report[f"server_parallel_{n}"]
        tokens = local if same_library else part["direct"]["tokens"]
        check_race(part["direct"], f"parallel {n} direct", tokens)
        check_race(part["sel"], f"parallel {n} through SEL", tokens)
        assert part["sel_vs_direct_tokens_per_s"] > 0 and part["sel_vs_direct_ttft_p50"] > 0, part
    for key in ("parallel_4_vs_parallel_1", "parallel_4_vs_in_process", "parallel_4_last_vs_first_ttft"):
        assert report[key] > 0, key
    followup = report["server_followup"]
    assert followup["conversation_tokens"] >= QUICK.followup_tokens
    for way in ("sel", "direct"):
        figures = followup[way]
        assert figures["cold_ttft_s"] > 0 and figures["followup_ttft_s"] > 0, figures
        assert figures["followup_vs_cold"] == pytest.approx(
            figures["followup_ttft_s"] / figures["cold_ttft_s"], rel=0.02, abs=0.002
        )
    assert report["targets"] == TARGETS


@pytest.fixture
def bench_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(SEL_CTX="1024")


def test_engine_bench_on_llama_cpp_pythons_server(bench_settings: Settings) -> None:
    report = run_engine_bench(bench_settings, launcher=python_server(), quick=True)
    check_report(report, "llama-cpp-python", same_library=True)
    # This server does not report what it evaluated; the figures say so instead of guessing.
    assert report["server_followup"]["direct"]["cold_prefilled_tokens"] is None


def test_engine_bench_on_llama_server(bench_settings: Settings) -> None:
    try:
        launcher = find_llama_server()
    except SelError:
        pytest.skip("llama-server is not built here (scripts/build-llama-server)")
    report = run_engine_bench(bench_settings, launcher=launcher, quick=True)
    check_report(report, "llama-server", same_library=False)
    for n in (1, len(PEOPLE)):  # llama-server counts what it generated: every reply ran to max_tokens
        assert report[f"server_parallel_{n}"]["direct"]["server_tokens"] == len(PEOPLE) * QUICK.reply_tokens
    direct = report["server_followup"]["direct"]
    # cache_prompt, sent as SEL sends it, kept the conversation's prefix: the follow-up evaluates only its new turns.
    assert direct["cold_prefilled_tokens"] >= QUICK.followup_tokens, direct
    assert 0 < direct["followup_prefilled_tokens"] < direct["cold_prefilled_tokens"] // 10, direct


def test_a_missing_llama_server_is_one_line_naming_the_build_script(tmp_path: Path) -> None:
    result = run_sel("bench", "engine", "--json", "--llama-server", str(tmp_path / "llama-server"), timeout=120)
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "run scripts/build-llama-server" in lines[0], result.stderr


def test_without_a_build_the_bench_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SelError, match="llama-server is not built; run scripts/build-llama-server"):
        find_llama_server()
