"""SEL on Discord, as a discord.py bot with Cogs.

- ``bot``: :class:`~sel.frontends.discord.bot.SelBot`, the lifecycle (Cogs, connect, "ready", close).
- ``conversation``: the Cog that reads every message and decides once whether SEL answers.
- ``responder``: a reply streamed by editing (``stream``), split under Discord's limit (``split``),
  recorded in the conversation history (``history``).
- ``lanes``: one reply per channel at a time; the people who write meanwhile wait in line.
- ``reasoning``: the model's reasoning as a spoiler message before the reply (SEL_SHOW_REASONING=spoiler).
- ``commands``: the `!` and `/sel` commands, one definition each; ``checks``: who may run them;
  ``model_list``: what `/sel model` shows.
- ``voice``: the voice channel Cog, with ``speech_source``, ``speaking`` and ``voice_support``.
- ``access``, ``attachments``, ``checkins``, ``incoming``: rules and readings for the above.
- ``last_replies``: the replies `retry` rewrites and `continue` extends; ``resets``: where `reset`
  starts each channel afresh, kept across restarts.

Nothing is imported here, so `sel --help` stays instant and `sel doctor` can read
``voice_support`` where discord.py is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sel.config import Settings

if TYPE_CHECKING:
    from sel.app import App


def run_discord(settings: Settings) -> int:
    """Run SEL on Discord until Ctrl-C; returns the exit code."""
    from sel.frontends.discord.bot import run_discord as run

    return run(settings)


async def serve(settings: Settings, *, app: App | None = None, **bot_kwargs: Any) -> int:
    """Run the bot with ``app`` (opened from ``settings`` when None) until it closes; see bot.serve."""
    from sel.frontends.discord.bot import serve as serve_bot

    return await serve_bot(settings, app=app, **bot_kwargs)
