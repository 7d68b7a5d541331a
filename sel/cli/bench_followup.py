"""The follow-up TTFT ratio on a model server, measured the way `sel bench` measures it in-process.

One server (llama-server keeps each conversation's prompt in a slot, ``cache_prompt``): conversation A
through SEL's engine and conversation B directly, each first cold, then two turns later. The direct
run also reads how many prompt tokens llama-server evaluated each time (``timings.prompt_n``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from sel.cli.bench_drivers import (
    DirectClient,
    Drive,
    Person,
    Vocabulary,
    open_sel,
    race,
    ratio,
    sel_drive,
)
from sel.cli.bench_llm import PERSONA, conversation
from sel.cli.bench_servers import ServedModel
from sel.domain import PromptPlan, Turn

REPLY_TOKENS = 8  # only the first token is timed


def measure_followup(served: ServedModel, logs: Path, tokens: int, vocabulary: Vocabulary) -> dict[str, Any]:
    """Cold and follow-up time to first token on a fresh server, conversations of about ``tokens`` tokens."""
    plan_a = conversation_plan("ana", tokens, vocabulary)
    plan_b = conversation_plan("ben", tokens, vocabulary)
    with served.running(logs / "followup.log") as url:
        figures = asyncio.run(_measure(served, url, plan_a, plan_b))
    return {"conversation_tokens": vocabulary.prompt_tokens(plan_a), **figures}


async def _measure(served: ServedModel, url: str, plan_a: PromptPlan, plan_b: PromptPlan) -> dict[str, Any]:
    engine = await open_sel(served.sel_settings(url))
    client = DirectClient(url, served.settings.llm, served.api)
    try:
        sel = [await _first_token(sel_drive(engine, REPLY_TOKENS), plan) for plan in (plan_a, next_turn(plan_a))]
        await client.open()
        direct, prefilled = [], []
        for plan in (plan_b, next_turn(plan_b)):
            direct.append(await _first_token(client.drive(REPLY_TOKENS), plan))
            prefilled.append(client.timings.get("prompt_n"))  # llama-server's count of the tokens it evaluated
    finally:
        await client.aclose()
        await engine.aclose()
    return {
        "sel": _figures(*sel),
        "direct": {
            **_figures(*direct),
            "cold_prefilled_tokens": prefilled[0],
            "followup_prefilled_tokens": prefilled[1],
        },
    }


def conversation_plan(name: str, tokens: int, vocabulary: Vocabulary) -> PromptPlan:
    """A multi-user conversation of about ``tokens`` tokens that ends with ``name``'s message."""
    turns = conversation(name, tokens, vocabulary.prompt_tokens)
    return PromptPlan(PERSONA, tuple(turns[:-1]))


def next_turn(plan: PromptPlan) -> PromptPlan:
    """The same conversation two turns later: SEL answered, the person wrote again."""
    person = plan.turns[0].speaker
    return replace(plan, turns=(*plan.turns, Turn("SEL", "hmm", from_sel=True), Turn(person, "and?")))


async def _first_token(drive: Drive, plan: PromptPlan) -> float:
    [reply] = await race([Person("followup", plan)], drive, "a")  # the same conversation id every time
    return reply.first_token_s if reply.first_token_s is not None else reply.end_s


def _figures(cold: float, followup: float) -> dict[str, Any]:
    return {
        "cold_ttft_s": round(cold, 4),
        "followup_ttft_s": round(followup, 4),
        "followup_vs_cold": ratio(followup, cold),
    }
