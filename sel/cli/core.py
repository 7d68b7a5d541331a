"""Starting SEL and seeing its settings: `sel run`, `sel chat`, `sel discord`, `sel config`."""

from __future__ import annotations

import argparse
import json

from sel.cli.printing import plain
from sel.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `run`, `chat`, `discord` and `config`."""
    run = subparsers.add_parser("run", help="start SEL: Discord when DISCORD_TOKEN is set, else the terminal chat")
    run.set_defaults(func=run_command)

    chat = subparsers.add_parser("chat", help="chat with SEL in the terminal (also reads piped lines)")
    chat.set_defaults(func=chat_command)

    discord = subparsers.add_parser("discord", help="run the Discord bot (needs DISCORD_TOKEN)")
    discord.set_defaults(func=discord_command)

    config = subparsers.add_parser("config", help="print the effective configuration (secrets hidden)")
    config.add_argument("--json", action="store_true", help="print JSON")
    config.set_defaults(func=config_command)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """`sel run` (and plain `sel`): the Discord bot when a token is set, else the terminal chat."""
    if settings.discord_token:
        return discord_command(args, settings)
    return chat_command(args, settings)


def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    from sel.frontends.terminal import run_chat

    return run_chat(settings)


def discord_command(args: argparse.Namespace, settings: Settings) -> int:
    from sel.frontends.discord import run_discord

    return run_discord(settings)


def config_command(args: argparse.Namespace, settings: Settings) -> int:
    data = settings.redacted()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    width = max(len(key) for key in data)
    for key, value in data.items():
        print(f"{key:<{width}}  {plain(value)}")
    return 0
