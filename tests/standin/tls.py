"""TLS and name resolution that point discord.py's real URLs at the loopback stand-in.

Only DNS and certificate trust change: discord.py keeps talking to https://discord.com,
wss://gateway.discord.gg and so on, and aiohttp keeps the original host name for SNI.
"""

from __future__ import annotations

import socket
import ssl
from functools import cache
from typing import TYPE_CHECKING

from aiohttp.abc import AbstractResolver, ResolveResult

if TYPE_CHECKING:
    import trustme

API_HOST = "discord.com"
GATEWAY_HOST = "gateway.discord.gg"
CDN_HOST = "cdn.discordapp.com"
MEDIA_HOST = "media.discordapp.net"
VOICE_HOST = "voice.standin.discord.media"
HOSTS = (API_HOST, GATEWAY_HOST, CDN_HOST, MEDIA_HOST, VOICE_HOST)


@cache
def test_ca() -> trustme.CA:
    """One throwaway certificate authority per test process (issuing it costs a few ms)."""
    import trustme

    return trustme.CA()


def server_ssl_context() -> ssl.SSLContext:
    """A server context whose certificate covers every host discord.py connects to."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca().issue_cert(*HOSTS, "127.0.0.1").configure_cert(context)
    return context


def client_ssl_context() -> ssl.SSLContext:
    """A client context that trusts only the test CA, so nothing real can be reached by accident."""
    context = ssl.create_default_context()
    test_ca().configure_trust(context)
    return context


class StaticResolver(AbstractResolver):
    """Resolves Discord's host names to the stand-in's loopback port; anything else fails loudly."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in HOSTS:
            raise OSError(f"the Discord stand-in does not serve {host!r}; a test reached for the real network")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self.port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None
