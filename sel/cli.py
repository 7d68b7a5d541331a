"""`sel` command line: small subcommands, one-line errors, tracebacks only with --debug.

Heavy libraries are imported inside the handlers, so `sel --help` and `sel config` start
instantly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sel import __version__
from sel.config import Settings, load_settings
from sel.errors import SelError
from sel.undecodable import replace_undecodable

log = logging.getLogger("sel")

Handler = Callable[[argparse.Namespace, Settings], int]

# Feature packages add their own subcommands through a `register(subparsers)` function.
FEATURE_COMMANDS = ("sel.memory.commands", "sel.voice.commands")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sel", description="SEL — a self-hosted Discord companion running local GGUF models."
    )
    parser.add_argument("--version", action="version", version=f"sel {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="start SEL: Discord when DISCORD_TOKEN is set, else the terminal chat")
    run.set_defaults(func=cmd_run)

    chat = sub.add_parser("chat", help="chat with SEL in the terminal (also reads piped lines)")
    chat.set_defaults(func=cmd_chat)

    discord = sub.add_parser("discord", help="run the Discord bot (needs DISCORD_TOKEN)")
    discord.set_defaults(func=cmd_discord)

    config = sub.add_parser("config", help="print the effective configuration (secrets hidden)")
    config.add_argument("--json", action="store_true", help="print JSON")
    config.set_defaults(func=cmd_config)

    doctor = sub.add_parser("doctor", help="check the environment, models and optional libraries")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=cmd_doctor)

    models = sub.add_parser("models", help="install the bundled default models into the models directory")
    models.add_argument("--force", action="store_true", help="reinstall even if present")
    models.set_defaults(func=cmd_models)

    bench = sub.add_parser("bench", help="measure speed and memory (prints JSON with --json)")
    bench.add_argument("what", nargs="?", default="llm", choices=["llm", "memory", "voice"])
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--quick", action="store_true", help="smaller workloads (for a smoke run)")
    bench.set_defaults(func=cmd_bench)

    for module_name in FEATURE_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name is None or not module_name.startswith(err.name):
                raise  # the feature exists but one of its own imports is broken
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = clean_text_arguments(parser.parse_args(argv))
    _replace_unprintable_output()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Handler | None = getattr(args, "func", None)
    if func is None:  # plain `sel` does what `make run` does
        func = cmd_run
    try:
        settings = load_settings()
        if not args.debug:
            logging.getLogger().setLevel(settings.log_level)
        return func(args, settings)
    except SelError as err:
        if args.debug:
            log.exception("error")
        print(f"sel: error: {replace_undecodable(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sel config | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def clean_text_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Text arguments (user ids, memory text, words to speak) with undecodable bytes as U+FFFD.

    File arguments are Path objects and keep their bytes: a cleaned name would be another file.
    """
    for name, value in vars(args).items():
        if isinstance(value, str):
            setattr(args, name, replace_undecodable(value))
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            setattr(args, name, [replace_undecodable(item) for item in value])
    return args


def _replace_unprintable_output() -> None:
    """A file name with undecodable bytes is printed with U+FFFD instead of crashing a strict UTF-8 stdout."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.discord_token:
        return cmd_discord(args, settings)
    return cmd_chat(args, settings)


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from sel.frontends.terminal import run_chat

    return run_chat(settings)


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from sel.frontends.discord_bot import run_discord
    except ModuleNotFoundError as err:
        if err.name != "sel.frontends.discord_bot":
            raise
        print(
            "sel: the Discord frontend is not built yet; unset DISCORD_TOKEN to use the terminal chat",
            file=sys.stderr,
        )
        return 2
    return run_discord(settings)


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    data = settings.redacted()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key:<{width}}  {_plain(value)}")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from sel.doctor import run_checks

    checks = run_checks(settings)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            line = f"{c.status:<7} {c.name:<{width}}  {c.detail}"
            if c.fix and c.status != "OK":
                line += f"  -> {c.fix}"
            print(line)
    return 0 if all(c.status != "MISSING" or not c.required for c in checks) else 1


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from sel.models import install_default_models

    print(f"models directory: {settings.models_dir}")
    install_default_models(settings.models_dir, force=args.force, progress=print)
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    result: dict[str, Any]
    if args.what == "llm":
        from sel.bench import run_llm_bench

        result = run_llm_bench(settings, quick=args.quick)
    elif args.what == "memory":
        from sel.memory.bench import run_memory_bench

        kwargs = {"memories": 5_000, "users": 100} if args.quick else {}
        result = run_memory_bench(settings, **kwargs)
    else:
        result = _voice_bench(settings)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {_plain(value)}")
    return 0


def _voice_bench(settings: Settings) -> dict[str, Any]:
    """Voice figures, extended to the first token of SEL's reply to the transcribed message."""
    import time

    from sel.domain import IncomingMessage
    from sel.runtime import open_runtime
    from sel.voice.bench import run_voice_bench

    runtime = open_runtime(settings, with_memory=False)
    runtime.engine.run_blocking(lambda llm: None)  # load the model first: a running bot has it loaded

    async def first_token(text: str) -> float:
        started = time.perf_counter()
        msg = IncomingMessage("bench", "bench", "bench-dm", text, is_dm=True, created_at=time.time())
        decision = runtime.brain.decide(msg)
        async for _chunk in runtime.brain.respond(msg, (), decision):
            break
        return time.perf_counter() - started

    try:
        return run_voice_bench(settings, first_token=first_token)
    finally:
        runtime.engine.close()


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)
