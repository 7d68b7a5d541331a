"""`sel memory list|delete|history`: one remembered fact at a time, for the owner acting on a person's request.

`list` shows a person's memories with the ids `delete` takes; `history` shows what corrected
memories said before (each version with when it was true). Times are the machine's local time.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from sel.app import open_memory
from sel.cli.printing import print_json
from sel.config import Settings

if TYPE_CHECKING:
    from sel.memory.records import Memory


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add list, delete and history to `sel memory`'s sub-commands."""
    p = commands.add_parser("list", help="USER's memories with their ids, oldest first")
    p.add_argument("user")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_command)

    p = commands.add_parser("delete", help="erase one of USER's memories (ID from `sel memory list`), no trace kept")
    p.add_argument("user")
    p.add_argument("id", help="the memory's id, as `sel memory list USER` shows it")
    p.set_defaults(func=delete_command)

    p = commands.add_parser("history", help="USER's corrected memories: every version, with when it was true")
    p.add_argument("user")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=history_command)


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_memory(settings) as store:
        memories = store.memories(args.user)
    if args.json:
        print_json([m.to_json() for m in memories])
    elif not memories:
        print(f"no memories of {args.user}")
    else:
        for m in memories:
            print(f"{m.id}  {when(m.when_said)}  {'hard' if m.hard else 'soft'}  {m.text}")
    return 0


def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_memory(settings) as store:
        memory = store.delete(args.user, args.id)
    print(f"deleted memory {memory.id} of {args.user}: {memory.text!r}")
    return 0


def history_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_memory(settings) as store:
        corrected = [m for m in store.memories(args.user) if m.history]
    if args.json:
        print_json([{"id": m.id, "slot": m.slot, "versions": versions(m)} for m in corrected])
    elif not corrected:
        print(f"no corrected memories of {args.user}")
    else:
        for m in corrected:
            print(f"{m.id}{f' ({m.slot})' if m.slot else ''}")
            for version in versions(m):
                until = "now" if version["valid_to"] is None else when(version["valid_to"])
                print(f"  {when(version['valid_from'])} to {until:<16}  {version['text']}")
    return 0


def versions(memory: Memory) -> list[dict[str, str | float | None]]:
    """Every version of ``memory``, oldest first; the current one is valid until None (still true)."""
    past: list[dict[str, str | float | None]] = [v.to_json() for v in memory.history]
    return [*past, {"text": memory.text, "valid_from": memory.when_said, "valid_to": None}]


def when(timestamp: float | str | None) -> str:
    """A time as the owner reads it: local date and minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(timestamp or 0)))
