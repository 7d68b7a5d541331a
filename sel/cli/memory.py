"""`sel memory ...`: the owner's command-line tools for memory, on the store `sel.app.open_memory` opens.

Handlers print results on stdout and raise :class:`~sel.errors.SelError` subclasses for anything
the user can fix. The store is locked while open: a running bot or chat makes these refuse in one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sel.app import open_memory
from sel.cli import memory_items
from sel.cli.printing import print_json
from sel.config import Settings
from sel.errors import InputError
from sel.memory.records import MAX_IMPORT_BYTES

if TYPE_CHECKING:
    from sel.memory.records import ImportResult, Outcome


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `memory` and its sub-commands to an argparse sub-parser group."""
    memory = subparsers.add_parser(
        "memory",
        help="consent-based long-term memory: consent, add, recall, import, list, delete, history, export, forget, "
        "svg, stats",
        description="Inspect and manage what SEL remembers. Nothing is stored about a user without their consent.",
    )
    commands = memory.add_subparsers(dest="memory_command", metavar="COMMAND", required=True)
    _add_storing_commands(commands)
    _add_data_rights_commands(commands)
    memory_items.register(commands)


def _add_storing_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """consent, add, recall, import: what SEL may store about USER, what it stores, what it recalls."""
    p = commands.add_parser("consent", help="record that USER opted in (on) or withdrew (off)")
    p.add_argument("user", help="user id (a Discord id, or 'local' for the terminal user)")
    p.add_argument("state", choices=("on", "off"))
    p.set_defaults(func=consent_command)

    p = commands.add_parser("add", help="remember TEXT about USER (needs their consent)")
    p.add_argument("user")
    p.add_argument("text")
    p.add_argument("--hard", action="store_true", help="permanent: never expires")
    p.add_argument("--tags", default="", help="comma-separated topic tags, e.g. pets,family")
    p.set_defaults(func=add_command)

    p = commands.add_parser("recall", help="USER's memories most relevant to QUERY")
    p.add_argument("user")
    p.add_argument("query")
    p.add_argument("-k", type=_positive_int, default=None, help="how many (default: SEL_RECALL_K)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=recall_command)

    p = commands.add_parser(
        "import",
        help="bulk-add memories from a JSON-lines file (needs consent)",
        description=f"Import USER's memories from FILE, a UTF-8 JSON-lines file of at most {_import_cap_mb()} MB. "
        "Without --skip-refused one bad line stops the import and nothing is imported.",
    )
    p.add_argument("user")
    p.add_argument(
        "file",
        type=Path,
        help='one object per line: {"text": ..., "tags": [...], "hard": false, "created_at": ...}; '
        f"a regular file of at most {_import_cap_mb()} MB",
    )
    p.add_argument(
        "--skip-refused",
        action="store_true",
        help="import the good lines and list the refused ones with their reasons (default: all or nothing)",
    )
    p.set_defaults(func=import_command)


def _add_data_rights_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """export, forget, svg: a person's data rights; stats: the owner's counts."""
    p = commands.add_parser("export", help="print everything stored about USER as JSON")
    p.add_argument("user")
    p.set_defaults(func=export_command)

    p = commands.add_parser("forget", help="erase everything about USER (memories, vectors, profiles, consent)")
    p.add_argument("user")
    p.set_defaults(func=forget_command)

    p = commands.add_parser("svg", help="draw USER's memory map as SVG")
    p.add_argument("user")
    p.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: stdout)")
    p.set_defaults(func=svg_command)

    p = commands.add_parser("stats", help="counts: users, memories, index, log")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=stats_command)


def consent_command(args: argparse.Namespace, settings: Settings) -> int:
    on = args.state == "on"
    with open_memory(settings) as store:
        store.set_consent(args.user, on)
    print(f"memory consent for {args.user}: {'on' if on else 'off'}")
    return 0


def add_command(args: argparse.Namespace, settings: Settings) -> int:
    tags = [t for t in args.tags.split(",") if t.strip()]
    with open_memory(settings) as store:
        outcome = store.add(args.user, args.text, tags=tags, hard=args.hard)
    print(_added_line(outcome, args.user))
    return 0


def recall_command(args: argparse.Namespace, settings: Settings) -> int:
    k = args.k if args.k is not None else settings.recall_k
    with open_memory(settings) as store:
        results = store.recall(args.user, args.query, k=k)
    if args.json:
        print_json([r.to_json() for r in results])
    elif not results:
        print(f"no memories of {args.user} match (or {args.user} has not opted in)")
    else:
        for r in results:
            tags = f"  [{', '.join(r.tags)}]" if r.tags else ""
            print(f"{r.score:.3f}  {r.text}{tags}")
    return 0


def import_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_memory(settings) as store:
        result = store.import_jsonl(args.user, args.file, skip_refused=args.skip_refused)
    print(_import_summary(result, args.user))
    for line in result.refused:
        print(f"  refused line {line.number}: {line.reason}")
    return 0


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    from sel.memory.export import export_user

    with open_memory(settings) as store:
        print_json(export_user(store, args.user))
    return 0


def forget_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_memory(settings) as store:
        store.forget(args.user)
    print(f"forgot everything about {args.user}")
    return 0


def svg_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.output is not None and not args.output.parent.is_dir():
        raise InputError(f"cannot write {args.output}: {args.output.parent} is not a folder; choose a path with -o")
    from sel.memory.svg import memory_map

    with open_memory(settings) as store:
        document = memory_map(store, args.user)
    if args.output is None:
        sys.stdout.write(document)
        return 0
    try:
        args.output.write_text(document, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot write {args.output} ({err.strerror}); choose a writable path with -o") from None
    print(f"wrote {args.output}")
    return 0


def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_memory(settings) as store:
        stats = store.stats()
    if args.json:
        print_json(stats)
    else:
        for key, value in stats.items():
            print(f"{key.replace('_', ' ')}: {value}")
    return 0


def _added_line(outcome: Outcome, user: str) -> str:
    """What `sel memory add` did, in one line."""
    memory = outcome.memory
    lifetime = "permanent" if memory.hard else "expires 14 days after last seen"
    if outcome.action == "duplicate":
        return f"duplicate of memory {memory.id} for {user}: {memory.text!r} is already kept; nothing new stored"
    if outcome.action == "updated":
        return f"updated memory {memory.id} for {user}: {outcome.previous_text!r} is now {memory.text!r} ({lifetime})"
    return f"stored memory {memory.id} for {user} ({lifetime})"


def _import_summary(result: ImportResult, user: str) -> str:
    """e.g. "imported 300 lines for 42: 297 stored, 2 duplicates of existing memories, 1 update"."""
    imported = len(result.outcomes)
    lines = f"{imported} lines" if not result.refused else f"{imported} of {result.lines} lines"
    parts = [f"{result.count('stored')} stored"]
    duplicates, updates, refused = result.count("duplicate"), result.count("updated"), len(result.refused)
    if duplicates:
        parts.append(
            "1 duplicate of an existing memory" if duplicates == 1 else f"{duplicates} duplicates of existing memories"
        )
    if updates:
        parts.append("1 update" if updates == 1 else f"{updates} updates")
    if refused:
        parts.append(f"{refused} refused")
    return f"imported {lines} for {user}: {', '.join(parts)}"


def _import_cap_mb() -> int:
    return MAX_IMPORT_BYTES // (1024 * 1024)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number
