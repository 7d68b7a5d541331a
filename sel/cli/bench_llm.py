"""`sel bench` (llm): one run on the configured general model, printed as one JSON object.

What it measures, each against its target:
- raw llama-cpp-python decode tokens/s vs SEL's streamed tokens/s on the same prompt (>= 0.97);
- cold time-to-first-token vs follow-up time-to-first-token on a ~1500-token conversation (<= 0.05x);
- time-to-first-token when returning to conversation A after conversation B ran (<= 0.1x cold);
- swap time (single-backend, another file) vs cold load;
- peak RSS.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.config import Settings
from sel.domain import GenerationStats, PromptPlan, Turn

if TYPE_CHECKING:
    from sel.llm.engine import Engine

PERSONA = "This is a chat log between friends on a Discord server. SEL is a warm, curious companion."
TOPICS = ("turtles", "tea", "rust code", "the moon", "music", "football", "gardening", "chess", "bread", "trains")
TARGETS = {"sel_vs_raw_decode": ">= 0.97", "followup_vs_cold": "<= 0.05", "return_vs_cold": "<= 0.1"}


@dataclass(frozen=True)
class Figures:
    """What one bench run measured, before it is rounded into the report."""

    cold_load: float
    raw_rates: list[float]
    sel_rates: list[float]
    cold: GenerationStats
    follow: GenerationStats
    back: GenerationStats
    swap: float


def conversation(name: str, target_tokens: int, count: Callable[[PromptPlan], int]) -> list[Turn]:
    """A multi-user conversation of about ``target_tokens`` tokens (counted with the model's tokenizer)."""
    turns: list[Turn] = []
    i = 0
    while True:
        topic = TOPICS[i % len(TOPICS)]
        turns.append(Turn(f"{name}{i % 3}", f"message {i}: I keep thinking about {topic}, what do you think about it?"))
        turns.append(Turn("SEL", f"I like {topic} too! Tell me more about {topic}.", from_sel=True))
        i += 1
        if i % 5 == 0 and count(PromptPlan(PERSONA, tuple(turns))) >= target_tokens:
            return turns


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def run_llm_bench(settings: Settings, *, quick: bool = False) -> dict[str, Any]:
    """Measure the engine on the general model; ``quick`` shrinks the workload for a smoke run."""
    settings = replace(settings, max_new_tokens=32 if quick else 128, temperature=0.0, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        # The coder slot gets the same weights under another file name, so asking for it is a real swap.
        other = Path(tmp) / "swap-target.gguf"
        os.symlink(settings.general_model.resolve(), other)
        figures = asyncio.run(_measure(replace(settings, coder_model=other), quick=quick))
    return _report(settings, figures)


async def _measure(settings: Settings, *, quick: bool) -> Figures:
    from sel.app import open_app

    app = await asyncio.to_thread(open_app, settings, with_memory=False)
    engine = app.engine  # the bench measures the engine itself, beside llama-cpp-python's own loop
    try:
        cold_load = _seconds(lambda: engine.run_blocking(lambda llm: None))
        plan_a, plan_b = _conversations(engine, target_tokens=400 if quick else 1500)
        raw_rates, sel_rates = await _decode_rates(engine, plan_a, settings, rounds=1 if quick else 3)
        cold, follow, back = await _first_tokens(engine, plan_a, plan_b)
        # Single-backend: the coder slot's file is loaded in place of the general one.
        swap = _seconds(lambda: engine.run_blocking(lambda llm: None, slot="coder"))
    finally:
        engine.close()  # not app.aclose(): the bench leaves SEL's saved mood as it was
    return Figures(cold_load, raw_rates, sel_rates, cold, follow, back, swap)


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _conversations(engine: Engine, *, target_tokens: int) -> tuple[PromptPlan, PromptPlan]:
    """Conversations A and B, each about ``target_tokens`` long, without their last message."""
    from sel.llm.residency import prompt_format_for

    def count(plan: PromptPlan) -> int:
        tokens: int = engine.run_blocking(
            lambda llm: len(llm.tokenize(prompt_format_for(llm).render(plan).text.encode(), special=True))
        )
        return tokens

    turns_a = conversation("ana", target_tokens, count)
    turns_b = conversation("ben", target_tokens, count)
    return PromptPlan(PERSONA, tuple(turns_a[:-1])), PromptPlan(PERSONA, tuple(turns_b[:-1]))


async def _first_tokens(
    engine: Engine, plan_a: PromptPlan, plan_b: PromptPlan
) -> tuple[GenerationStats, GenerationStats, GenerationStats]:
    """Conversation A cold, A's follow-up, and A again after B ran (each with one more message)."""
    engine.run_blocking(lambda llm: llm.reset())
    cold = await _drain(engine, plan_a, "A", 8)
    follow_plan = PromptPlan(PERSONA, (*plan_a.turns, Turn("SEL", "hmm", from_sel=True), Turn("ana0", "and?")))
    follow = await _drain(engine, follow_plan, "A", 8)
    await _drain(engine, plan_b, "B", 8)
    back_plan = PromptPlan(PERSONA, (*follow_plan.turns, Turn("SEL", "ok", from_sel=True), Turn("ana1", "hi")))
    back = await _drain(engine, back_plan, "A", 8)
    return cold, follow, back


async def _decode_rates(
    engine: Engine, plan: PromptPlan, settings: Settings, *, rounds: int
) -> tuple[list[float], list[float]]:
    """Decode speed: raw llama-cpp-python vs SEL's streamed path, same prompt, alternating."""
    raw_rates, sel_rates = [], []
    for _ in range(rounds):
        raw_rates.append(engine.run_blocking(lambda llm: _raw_decode(llm, plan, settings)))
        engine.run_blocking(lambda llm: llm.reset())
        stats = await _drain(engine, plan, "decode", settings.max_new_tokens)
        sel_rates.append(stats.tokens_per_second)
    return raw_rates, sel_rates


def _report(settings: Settings, figures: Figures) -> dict[str, Any]:
    cold, follow, back = figures.cold, figures.follow, figures.back
    raw = statistics.median(figures.raw_rates)
    sel = statistics.median(figures.sel_rates)
    return {
        "model": settings.general_model.name,
        "threads": settings.threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "raw_decode_tokens_per_s": round(raw, 2),
        "sel_stream_tokens_per_s": round(sel, 2),
        "sel_vs_raw_decode": round(sel / raw, 3) if raw else None,
        "conversation_tokens": cold.prompt_tokens,
        "cold_ttft_s": round(cold.time_to_first_token, 4),
        "cold_prefilled_tokens": cold.prefilled_tokens,
        "followup_ttft_s": round(follow.time_to_first_token, 4),
        "followup_prefilled_tokens": follow.prefilled_tokens,
        "followup_vs_cold": round(follow.time_to_first_token / cold.time_to_first_token, 4),
        "return_to_a_ttft_s": round(back.time_to_first_token, 4),
        "return_to_a_prefilled_tokens": back.prefilled_tokens,
        "return_to_a_restored_snapshot": back.restored_snapshot,
        "return_vs_cold": round(back.time_to_first_token / cold.time_to_first_token, 4),
        "cold_load_s": round(figures.cold_load, 3),
        "swap_s": round(figures.swap, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "targets": TARGETS,
    }


async def _drain(engine: Engine, plan: PromptPlan, conversation: str, max_tokens: int) -> GenerationStats:
    """Generate a reply to ``plan`` to the end; its stats."""
    async for _ in engine.stream("general", plan, conversation=conversation, max_tokens=max_tokens):
        pass
    stats = engine.last_stats
    assert stats is not None, "a finished generation always leaves its stats"
    return stats


def _raw_decode(llm: Any, plan: PromptPlan, settings: Settings) -> float:
    """Tokens/s of plain ``create_completion(stream=True)``, first token excluded (it includes prefill).

    Same prompt, sampling parameters and stop strings as SEL's path, so the ratio shows
    only what SEL's thread hand-off and streaming cost.
    """
    from sel.llm.residency import prompt_format_for

    rendered = prompt_format_for(llm).render(plan)
    llm.reset()
    first = None
    n = 0
    chunks = llm.create_completion(
        rendered.text,
        max_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        repeat_penalty=settings.repeat_penalty,
        stop=list(rendered.stop),
        stream=True,
    )
    for _chunk in chunks:
        if first is None:
            first = time.perf_counter()
        n += 1
    elapsed = time.perf_counter() - (first or time.perf_counter())
    # The last chunk is the closing one with no token.
    return (n - 2) / elapsed if elapsed > 0 and n > 2 else 0.0
