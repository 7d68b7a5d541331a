"""Starting SEL and seeing its settings: `sel run`, `sel chat`, `sel discord`, `sel config`, `sel health`."""

from __future__ import annotations

import argparse
import json

from sel.cli.printing import plain
from sel.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `run`, `chat`, `discord`, `config` and `health`."""
    run = subparsers.add_parser("run", help="start SEL: Discord when DISCORD_TOKEN is set, else the terminal chat")
    run.set_defaults(func=run_command)

    chat = subparsers.add_parser("chat", help="chat with SEL in the terminal (also reads piped lines)")
    chat.set_defaults(func=chat_command)

    discord = subparsers.add_parser("discord", help="run the Discord bot (needs DISCORD_TOKEN)")
    discord.set_defaults(func=discord_command)

    config = subparsers.add_parser("config", help="print the effective configuration (secrets hidden)")
    config.add_argument("--json", action="store_true", help="print JSON")
    config.add_argument("--server", help="the effective settings in this server (its Discord id), from sel.toml")
    config.add_argument("--channel", help="... and in this channel of it")
    config.set_defaults(func=config_command)

    health = subparsers.add_parser("health", help="exit 0 if the running bot is healthy, else 1 (Docker HEALTHCHECK)")
    health.set_defaults(func=health_command)


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


def health_command(args: argparse.Namespace, settings: Settings) -> int:
    """One line from the running bot's heartbeat file (sel/health.py): healthy, or what is stuck."""
    import time

    from sel.health import judge, read_heartbeat

    problem = judge(read_heartbeat(settings.data_dir), time.time())
    print(f"unhealthy: {problem}" if problem else "healthy: connected to Discord, engine answering")
    return 1 if problem else 0


def config_command(args: argparse.Namespace, settings: Settings) -> int:
    data = settings.redacted()
    if args.server or args.channel:
        from sel.cli.persona import place_view

        data = place_view(settings, args.server, args.channel)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    width = max(len(key) for key in data)
    for key, value in data.items():
        print(f"{key:<{width}}  {plain(value)}")
    return 0
