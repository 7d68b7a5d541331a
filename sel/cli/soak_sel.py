"""SEL as `sel run` runs it, connected to the soak bench's Discord stand-in: `python -m sel.cli.soak_sel PORT CA_FILE`.

Settings come from the environment as always (the bench sets the token, data folder and metrics port).
The only difference from `sel run` is the network: Discord's host names resolve to the stand-in's
loopback port and only its test certificate authority is trusted, so nothing real can be reached.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import socket
import ssl
import sys
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from sel.config import load_settings
from sel.errors import SelError, render_error
from sel.frontends.discord.bot import serve_until_stopped


class LoopbackResolver(AbstractResolver):
    """Every host name resolves to 127.0.0.1:``port`` (the stand-in serves all of Discord's hosts)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host="127.0.0.1", port=self.port, family=socket.AF_INET, proto=0, flags=0)]

    async def close(self) -> None:
        return None


async def run(port: int, ca_file: str) -> int:
    options: dict[str, Any] = {
        "connector": aiohttp.TCPConnector(
            resolver=LoopbackResolver(port), ssl=ssl.create_default_context(cafile=ca_file)
        ),
        "guild_ready_timeout": 0.05,
    }
    return await serve_until_stopped(load_settings(), **options)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faulthandler.enable()  # a SEL that does not stop is sent SIGABRT: every thread's stack goes to the log
    try:
        return asyncio.run(run(int(argv[0]), argv[1]))
    except KeyboardInterrupt:  # Ctrl-C in a terminal that runs the bench
        return 0
    except SelError as err:
        print(f"sel: error: {render_error(err)}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
