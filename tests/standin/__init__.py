"""A loopback Discord stand-in that the real, unmodified discord.py talks to over TLS.

Only DNS and certificate trust change (`standin.client_options()` gives the connector and a
short `guild_ready_timeout`); discord.py keeps its real URLs, HTTP client, gateway and voice code.

    bot = commands.Bot(command_prefix="!", intents=intents, **standin.client_options())
    async with standin.running(bot):
        await standin.send_message(standin.general.id, standin.alice, "!ping")
        (reply,) = await standin.wait_for(lambda: standin.bot_messages(standin.general.id))

Modules: `server` (DiscordStandin: builders, actors, queries, knobs, waits), `routing` (the
HTTPS front door), `rest` (REST routes), `validation` (Discord's errors), `ratelimit`,
`gateway`, `voice`, `state` (the world), `payloads` (JSON shapes), `tls`, `fixtures` (pytest),
`discord_types` (discord.py's TypedDicts for conformance tests).
"""

from tests.standin.ratelimit import BucketRule, RateLimitPolicy
from tests.standin.server import DiscordStandin, FileSpec

__all__ = ["BucketRule", "DiscordStandin", "FileSpec", "RateLimitPolicy"]
