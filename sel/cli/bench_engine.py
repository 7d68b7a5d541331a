"""`sel bench engine`: four people address SEL at once, on one model (the general GGUF), three ways.

- ``in_process``: SEL's llama.cpp engine; the four take turns on its one worker (what SEL does locally).
- ``server_parallel_1`` and ``server_parallel_4``: llama-server with one slot, and with four (each slot
  SEL_CTX tokens of context), each driven through SEL's engine (SEL_GENERAL_URL pointing at it, ``sel``)
  and directly (raw streamed HTTP with the very request bodies SEL sends, ``direct``).

Each person's conversation has SEL answering at length, so even a base model writes whole replies.
For each way: aggregate tokens/s (the replies' tokens, counted with the model's tokenizer, over the
time from the four requests to the end of the last reply), p50/p95 time to first token, and each
person's first-token time (in the order they asked). ``sel_vs_direct_*`` is SEL's own cost on the
server. ``server_followup`` is the follow-up TTFT ratio on the server: a long conversation's reply,
then its next one (two turns later, cache_prompt on), as `sel bench` measures it in-process.

Every server run starts a fresh server, so no run finds the prompts of another cached. Each round goes
through every way (in-process, then each server, direct and SEL alternating which goes first), and
each figure is the median over the rounds. Servers listen on loopback only.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sel.cli.bench_drivers import (
    DirectClient,
    Person,
    Reply,
    Vocabulary,
    counting_retries,
    median_figures,
    open_sel,
    race,
    race_figures,
    ratio,
    sel_drive,
)
from sel.cli.bench_followup import measure_followup
from sel.cli.bench_llm import PERSONA, TOPICS
from sel.cli.bench_servers import Launcher, ServedModel, ServerSpec, find_llama_server
from sel.config import Settings
from sel.domain import PromptPlan, Turn
from sel.errors import ModelError

if TYPE_CHECKING:
    from sel.llm.engine import Engine

PEOPLE = ("ana", "ben", "cat", "dan")
BUSY_READ_TIMEOUT = 900.0  # seconds
TARGETS = {
    "parallel_4_last_vs_first_ttft": "<= 1.5",
    "sel_vs_direct_tokens_per_s": ">= 0.95",
    "sel_vs_direct_ttft_p50": "<= 1.05",
    "parallel_4_vs_parallel_1": ">= 1.2",
    "parallel_4_vs_in_process": ">= 1.0",
}


LONG_ANSWER = (
    "Oh, {topic} is one of my favourite things to talk about, honestly. There is so much to say about {topic}: "
    "the history of it, the little details most people never notice, and the way it changes depending on who you "
    "ask. I could go on for hours, so tell me what got you thinking about {topic} today, and I will share what I "
    "know about it too."
)


def talkative_plan(name: str, first_topic: int, tokens: int, vocabulary: Vocabulary) -> PromptPlan:
    """A conversation of about ``tokens`` tokens in which SEL answers at length, ending with ``name`` asking
    for more. A base model imitates the long answers, so replies run to their token limit instead of
    stopping at the next speaker's line after a dozen tokens."""
    turns: list[Turn] = []
    i = first_topic
    while True:
        topic = TOPICS[i % len(TOPICS)]
        turns.append(Turn(name, f"hey SEL, what do you think about {topic}? tell me everything you know"))
        turns.append(Turn("SEL", LONG_ANSWER.format(topic=topic), from_sel=True))
        i += 1
        asking = Turn(name, f"and what about {TOPICS[i % len(TOPICS)]}? tell me everything, in detail")
        plan = PromptPlan(PERSONA, (*turns, asking))
        if vocabulary.prompt_tokens(plan) >= tokens:
            return plan


@dataclass(frozen=True)
class Sizes:
    """How much work one bench run does."""

    rounds: int = 3
    reply_tokens: int = 64
    prompt_tokens: int = 300  # each person's conversation
    followup_tokens: int = 1500  # the conversation of the follow-up measurement

    @classmethod
    def quick(cls) -> Sizes:
        return cls(rounds=1, reply_tokens=16, prompt_tokens=100, followup_tokens=300)


def run_engine_bench(
    settings: Settings, *, launcher: Launcher | None = None, llama_server: Path | None = None, quick: bool = False
) -> dict[str, Any]:
    """Measure the three ways; ``launcher`` defaults to llama-server (``llama_server`` or the built one)."""
    launcher = launcher or find_llama_server(llama_server)  # before any slow work: a missing build fails fast
    settings = bench_settings(settings)
    sizes = Sizes.quick() if quick else Sizes()
    vocabulary = Vocabulary(settings.general_model)
    people = [Person(name, talkative_plan(name, i, sizes.prompt_tokens, vocabulary)) for i, name in enumerate(PEOPLE)]
    api = "chat" if vocabulary.has_chat_template else "completions"
    spec = ServerSpec(
        settings.general_model, 1, settings.ctx, settings.threads, settings.flash_attn, _gpu_layers(settings)
    )
    served = {n: ServedModel(launcher, replace(spec, parallel=n), settings, api) for n in (1, len(PEOPLE))}
    in_process: list[dict[str, Any]] = []
    servers: dict[int, dict[str, list[dict[str, Any]]]] = {n: {"direct": [], "sel": []} for n in served}
    with tempfile.TemporaryDirectory(prefix="sel-bench-engine-") as tmp:
        logs = Path(tmp)
        local = asyncio.run(open_sel(settings))
        try:
            # Round by round through every way, so a busier spell of the machine touches them all alike.
            for n in range(sizes.rounds):
                in_process.append(asyncio.run(_in_process_round(local, people, sizes.reply_tokens, vocabulary, n)))
                for parallel, server in served.items():
                    _server_round(server, logs, people, sizes.reply_tokens, vocabulary, n, servers[parallel])
        finally:
            local.close()
        followup = measure_followup(served[len(PEOPLE)], logs, sizes.followup_tokens, vocabulary)
    return _report(settings, launcher, sizes, people, vocabulary, in_process, servers, followup)


def bench_settings(settings: Settings) -> Settings:
    """The general GGUF in-process, greedy sampling, room for four at once; servers are the bench's own."""
    model = settings.general_model
    if settings.general_url is not None or not model.is_file():
        raise ModelError(
            f"sel bench engine serves the general model's GGUF itself: SEL_GENERAL_MODEL={model} is not a file; "
            "point it at a GGUF (and leave SEL_GENERAL_URL unset for the bench)"
        )
    return replace(
        settings,
        coder_model=model,
        vision_model=None,
        vision_mmproj=None,
        general_url=None,
        coder_url=None,
        vision_url=None,
        remote=(),
        temperature=0.0,
        seed=1,
        max_parallel=len(PEOPLE),
        # A busy machine slows a queued reply's first byte; the bench should then be slow, not fail.
        read_timeout=max(settings.read_timeout, BUSY_READ_TIMEOUT),
    )


def _gpu_layers(settings: Settings) -> int:
    """The servers offload as SEL does in-process: SEL_GPU_LAYERS, else all layers when llama.cpp has a GPU."""
    from sel.llm.engine import gpu_offload_supported

    if settings.gpu_layers is not None:
        return settings.gpu_layers
    return -1 if gpu_offload_supported() else 0


async def _in_process_round(
    engine: Engine, people: list[Person], reply_tokens: int, vocabulary: Vocabulary, n: int
) -> dict[str, Any]:
    """The four on SEL's in-process engine; new conversation ids each round, so none finds its KV state saved."""
    replies = await race(people, sel_drive(engine, reply_tokens), f"r{n}")
    return race_figures(replies, vocabulary)


def _server_round(
    served: ServedModel,
    logs: Path,
    people: list[Person],
    reply_tokens: int,
    vocabulary: Vocabulary,
    n: int,
    runs: dict[str, list[dict[str, Any]]],
) -> None:
    """One run each of SEL and direct, each on a fresh server; which goes first alternates by round."""
    for way in ("direct", "sel") if n % 2 == 0 else ("sel", "direct"):
        with served.running(logs / f"parallel-{served.spec.parallel}.log") as url:
            replies, extra = asyncio.run(_drive_server(way, served, url, people, reply_tokens))
        runs[way].append({**race_figures(replies, vocabulary), **extra})


async def _drive_server(
    way: str, served: ServedModel, url: str, people: list[Person], reply_tokens: int
) -> tuple[list[Reply], dict[str, Any]]:
    """One race on the server at ``url``, with how many requests were sent again (and, directly,
    the tokens the server says it generated)."""
    if way == "sel":
        engine = await open_sel(served.sel_settings(url))
        try:
            with counting_retries() as retries:
                replies = await race(people, sel_drive(engine, reply_tokens), "sel")
            return replies, {"retried_requests": len(retries)}
        finally:
            await engine.aclose()
    client = DirectClient(url, served.settings.llm, served.api)
    try:
        await client.open()
        await client.warm_up()
        replies = await race(people, client.drive(reply_tokens), "direct")
        return replies, {"retried_requests": client.stale_connections, "server_tokens": client.generated}
    finally:
        await client.aclose()


def _report(
    settings: Settings,
    launcher: Launcher,
    sizes: Sizes,
    people: list[Person],
    vocabulary: Vocabulary,
    in_process: list[dict[str, Any]],
    servers: dict[int, dict[str, list[dict[str, Any]]]],
    followup: dict[str, Any],
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "model": settings.general_model.name,
        "server": launcher.kind,
        "threads": settings.threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "people": len(people),
        "reply_tokens": sizes.reply_tokens,
        "prompt_tokens": [vocabulary.prompt_tokens(person.plan) for person in people],
        "ctx_per_slot": settings.ctx,
        "rounds": sizes.rounds,
        "in_process": median_figures(in_process),
    }
    for n, runs in servers.items():
        report[f"server_parallel_{n}"] = _server_report(runs)
    local, serial, parallel = (report[k] for k in ("in_process", "server_parallel_1", f"server_parallel_{len(PEOPLE)}"))
    report["parallel_4_vs_parallel_1"] = ratio(parallel["sel"]["tokens_per_s"], serial["sel"]["tokens_per_s"])
    report["parallel_4_vs_in_process"] = ratio(parallel["sel"]["tokens_per_s"], local["tokens_per_s"])
    report["parallel_4_last_vs_first_ttft"] = parallel["sel"]["last_vs_first_ttft"]
    report["server_followup"] = followup
    report["targets"] = TARGETS
    return report


def _server_report(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians of SEL's and the direct runs; SEL's cost as the median of each round's paired ratio."""
    pairs = list(zip(runs["sel"], runs["direct"], strict=True))
    rates = [ratio(sel["tokens_per_s"], direct["tokens_per_s"]) for sel, direct in pairs]
    ttfts = [ratio(sel["ttft_p50_s"], direct["ttft_p50_s"]) for sel, direct in pairs]
    return {
        "sel": median_figures(runs["sel"]),
        "direct": median_figures(runs["direct"]),
        "sel_vs_direct_tokens_per_s": _median(rates),
        "sel_vs_direct_ttft_p50": _median(ttfts),
    }


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None
