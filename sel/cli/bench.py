"""`sel bench [llm|engine|memory|recall|voice|soak]`: speed and memory figures, as lines or one JSON object (--json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sel.cli.printing import plain
from sel.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench`."""
    bench = subparsers.add_parser("bench", help="measure speed and memory (prints JSON with --json)")
    bench.add_argument("what", nargs="?", default="llm", choices=["llm", "engine", "memory", "recall", "voice", "soak"])
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--quick", action="store_true", help="smaller workloads (for a smoke run)")
    bench.add_argument(
        "--llama-server", type=Path, metavar="PATH", help="engine: the llama-server binary (default: the one built)"
    )
    bench.add_argument("--minutes", type=float, default=30.0, help="soak: how long to drive SEL (default 30)")
    bench.add_argument("--model", type=Path, metavar="PATH", help="soak: the GGUF SEL answers with (default: .env's)")
    bench.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "soak":
        from sel.cli.bench_soak import run_soak_bench

        result = run_soak_bench(settings, minutes=args.minutes, model=args.model)
    else:
        result = run_bench(args.what, settings, quick=args.quick, llama_server=args.llama_server)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {plain(value)}")
    return 0 if result.get("pass", True) else 1  # the soak's targets decide its exit code (CI)


def run_bench(
    what: str, settings: Settings, *, quick: bool = False, llama_server: Path | None = None
) -> dict[str, Any]:
    """The figures of one benchmark: llm, engine, memory, recall or voice (each imports its models only when run)."""
    if what == "llm":
        from sel.cli.bench_llm import run_llm_bench

        return run_llm_bench(settings, quick=quick)
    if what == "engine":
        from sel.cli.bench_engine import run_engine_bench

        return run_engine_bench(settings, llama_server=llama_server, quick=quick)
    if what == "memory":
        from sel.cli.bench_memory import run_memory_bench

        if quick:
            return run_memory_bench(settings.memory, memories=5_000, users=100)
        return run_memory_bench(settings.memory)
    if what == "recall":
        from sel.cli.bench_recall import run_recall_bench

        return run_recall_bench(settings.memory.embed_model)
    from sel.cli.bench_voice import run_voice_bench

    return run_voice_bench(settings)
