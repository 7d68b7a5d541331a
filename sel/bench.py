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
from dataclasses import replace
from pathlib import Path
from typing import Any

from sel.config import Settings
from sel.domain import PromptPlan, Turn

PERSONA = "This is a chat log between friends on a Discord server. SEL is a warm, curious companion."
TOPICS = ("turtles", "tea", "rust code", "the moon", "music", "football", "gardening", "chess", "bread", "trains")


def conversation(name: str, target_tokens: int, count: Any) -> list[Turn]:
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
    return asyncio.run(_bench(settings, quick=quick))


async def _bench(settings: Settings, *, quick: bool) -> dict[str, Any]:
    from sel.llm.engine import Engine, _format_for

    target = 400 if quick else 1500
    decode_tokens = 32 if quick else 128
    settings = replace(settings, max_new_tokens=decode_tokens, temperature=0.0, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "swap-target.gguf"
        os.symlink(settings.general_model.resolve(), other)
        engine = Engine(settings, {"general": settings.general_model, "coder": other})
        try:
            started = time.perf_counter()
            engine.run_blocking(lambda llm: None)
            cold_load = time.perf_counter() - started

            def count(plan: PromptPlan) -> int:
                return engine.run_blocking(
                    lambda llm: len(llm.tokenize(_format_for(llm).render(plan).text.encode(), special=True))
                )

            turns_a = conversation("ana", target, count)
            turns_b = conversation("ben", target, count)
            plan_a = PromptPlan(PERSONA, tuple(turns_a[:-1]))

            # Decode speed: raw llama-cpp-python vs SEL's streamed path, same prompt, alternating.
            raw_rates, sel_rates = [], []
            for _ in range(1 if quick else 3):
                raw_rates.append(engine.run_blocking(lambda llm: _raw_decode(llm, plan_a, settings)))
                engine.run_blocking(lambda llm: llm.reset())
                await _drain(engine, plan_a, "decode", decode_tokens)
                sel_rates.append(engine.last_stats.tokens_per_second)

            # Cold vs follow-up time-to-first-token on the ~1500-token conversation A.
            engine.run_blocking(lambda llm: llm.reset())
            await _drain(engine, plan_a, "A", 8)
            cold = engine.last_stats
            follow_plan = PromptPlan(PERSONA, (*plan_a.turns, Turn("SEL", "hmm", from_sel=True), Turn("ana0", "and?")))
            await _drain(engine, follow_plan, "A", 8)
            follow = engine.last_stats

            # Conversation B runs, then A returns with one more message.
            await _drain(engine, PromptPlan(PERSONA, tuple(turns_b[:-1])), "B", 8)
            back_plan = PromptPlan(PERSONA, (*follow_plan.turns, Turn("SEL", "ok", from_sel=True), Turn("ana1", "hi")))
            await _drain(engine, back_plan, "A", 8)
            back = engine.last_stats

            # Swap: single-backend loads the other slot's file, closing the first.
            swap_started = time.perf_counter()
            engine.run_blocking(lambda llm: None, slot="coder")
            swap = time.perf_counter() - swap_started
        finally:
            engine.close()

    raw = statistics.median(raw_rates)
    sel = statistics.median(sel_rates)
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
        "cold_load_s": round(cold_load, 3),
        "swap_s": round(swap, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "targets": {"sel_vs_raw_decode": ">= 0.97", "followup_vs_cold": "<= 0.05", "return_vs_cold": "<= 0.1"},
    }


async def _drain(engine: Any, plan: PromptPlan, conversation: str, max_tokens: int) -> None:
    async for _ in engine.stream("general", plan, conversation=conversation, max_tokens=max_tokens):
        pass


def _raw_decode(llm: Any, plan: PromptPlan, settings: Settings) -> float:
    """Tokens/s of plain ``create_completion(stream=True)``, first token excluded (it includes prefill).

    Same prompt, sampling parameters and stop strings as SEL's path, so the ratio shows
    only what SEL's thread hand-off and streaming cost.
    """
    from sel.llm.engine import _format_for

    rendered = _format_for(llm).render(plan)
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
