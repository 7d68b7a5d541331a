"""`sel` command line: small subcommands, one-line errors, tracebacks only with --debug.

Each module here owns a group of commands and adds them with ``register(subparsers)``; a
command is ``handler(args, settings) -> exit code``. Heavy libraries are imported inside the
handlers, so `sel --help` and `sel config` start instantly.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from sel import __version__
from sel.cli import bench, core, doctor, memory, models, persona, voice
from sel.config import Settings, load_settings
from sel.errors import SelError, render_error
from sel.undecodable import replace_undecodable

log = logging.getLogger("sel")

Handler = Callable[[argparse.Namespace, Settings], int]

# In the order `sel --help` lists them.
COMMAND_GROUPS = (core, doctor, models, bench, memory, persona, voice)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sel", description="SEL — a self-hosted Discord companion running local GGUF models."
    )
    parser.add_argument("--version", action="version", version=f"sel {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = clean_text_arguments(build_parser().parse_args(argv))
    _replace_unprintable_output()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Handler = getattr(args, "func", None) or core.run_command  # plain `sel` does what `make run` does
    try:
        settings = load_settings()
        if not args.debug:
            logging.getLogger().setLevel(settings.log_level)
        return handler(args, settings)
    except SelError as err:
        if args.debug:
            log.exception("error")
        print(f"sel: error: {render_error(err)}", file=sys.stderr)
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
