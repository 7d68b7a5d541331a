"""pytest fixtures for the Discord stand-in (register with `pytest_plugins = ["tests.standin.fixtures"]`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.standin.server import DiscordStandin


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    """A started stand-in with the default world. Fails the test if the bot used a route it does not serve."""
    server = DiscordStandin()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
    unknown = [f"{r.method} {r.host}{r.path}" for r in server.unknown_requests]
    assert not unknown, f"the bot called routes the stand-in does not serve: {unknown}"
    assert not server.unsupported, f"the bot used behaviour the stand-in does not model: {server.unsupported}"
