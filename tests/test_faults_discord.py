"""Discord faults while SEL streams a reply: the real bot, the real engine, the loopback stand-in.

The gateway closes under the bot (resumable or not), REST answers 5xx or storms of 429s on the
reply's creates and edits, and Discord answers nothing at all for longer than discord.py's own
heartbeat timeout. After each the reply is finished (no in-progress marker left), nobody gets two
answers, and SEL answers the next message as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sel.domain import PromptPlan
from sel.frontends.discord.bot import SelBot
from sel.frontends.discord.stream import MARKER
from tests.discord_fixtures import mention, replies_in
from tests.standin.server import DiscordStandin

MESSAGES = "/channels/*/messages"
EDITS = "/channels/*/messages/*"
FAST_EDITS = {"SEL_EDIT_INTERVAL": "0.2", "SEL_MAX_NEW_TOKENS": "80"}


class MidStream:
    """Holds SEL's real generation, once its reply shows in the channel with the in-progress marker,
    until :meth:`go`: the test can then break Discord under a reply that is still streaming."""

    def __init__(self, bot: SelBot, standin: DiscordStandin, channel: int) -> None:
        engine = bot.app.engine
        self._stream = engine.stream
        self._go = asyncio.Event()
        self._showing = lambda: any(m.content.endswith(MARKER.strip()) for m in standin.bot_messages(channel))
        engine.stream = self.stream

    def go(self) -> None:
        self._go.set()

    async def stream(
        self, slot: str, plan: PromptPlan, *, conversation: str, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        inner = self._stream(slot, plan, conversation=conversation, max_tokens=max_tokens)
        async with contextlib.aclosing(inner) as chunks:
            async for chunk in chunks:
                yield chunk
                if self._showing():
                    await self._go.wait()


async def posted_with_marker(standin: DiscordStandin, channel: int) -> Any:
    return await standin.wait_for(
        lambda: [m for m in standin.bot_messages(channel) if m.content.endswith(MARKER.strip())],
        90,
        what="SEL's reply to show up, mid-stream",
    )


async def assert_finished_once(standin: DiscordStandin, channel: int, asked: list[dict[str, Any]]) -> None:
    """Each question got exactly one answer, and no message SEL posted still shows the marker."""

    def all_answered() -> bool:
        mine = standin.bot_messages(channel)
        answered = {m.reply_to for m in mine}
        finished = not any(m.content.endswith(MARKER.strip()) for m in mine)
        return finished and all(int(q["id"]) in answered for q in asked)

    try:
        await standin.wait_for(all_answered, 150, what="every question to get a finished answer")
    finally:
        await standin.idle(300, timeout=60)
        mine = standin.bot_messages(channel)
        stuck = [m.content for m in mine if MARKER.strip() in m.content]
        assert not stuck, f"replies left with their in-progress marker: {stuck}\n{standin.transcript()}"
    for question in asked:
        answers = [m for m in mine if m.reply_to == int(question["id"])]
        assert len(answers) == 1, f"{len(answers)} answers to {question['content']!r}: {[m.content for m in mine]}"
        assert answers[0].content.strip(), "an empty answer"


async def still_answers(standin: DiscordStandin, bot: SelBot, channel: int) -> None:
    before = len(standin.bot_messages(channel))
    later = await standin.send_message(channel, standin.alice, f"{mention(bot)} are you still there?")
    await standin.wait_for(
        lambda: [m for m in standin.bot_messages(channel)[before:] if m.reply_to == int(later["id"])],
        150,
        what="an answer to a later message",
    )
    await replies_in(standin, channel, timeout=150)


# ---- the gateway -----------------------------------------------------------------------------


@pytest.mark.parametrize(("resumable", "code"), [(True, 4000), (False, 4009)], ids=["resumes", "identifies-again"])
async def test_the_gateway_closing_mid_stream_neither_cuts_nor_repeats_a_reply(sel_env, standin, resumable, code):
    bot = await sel_env(**FAST_EDITS)
    ch = standin.general.id
    held = MidStream(bot, standin, ch)
    asked = [await standin.send_message(ch, standin.alice, f"{mention(bot)} tell me about tea")]
    await posted_with_marker(standin, ch)

    # Resumable: the bot RESUMEs its session. Not: its RESUME is refused and it IDENTIFYs anew.
    reconnects = standin.gateway.resumes if resumable else standin.gateway.identifies
    before = len(reconnects)
    await standin.drop_gateway(resumable=resumable, code=code)
    if resumable:  # a message sent while SEL is away is replayed on RESUME and answered once
        asked.append(await standin.send_message(ch, standin.bob, f"{mention(bot)} and about coffee?"))
    await standin.wait_for(lambda: len(reconnects) > before, 30, what="the bot to reconnect")
    held.go()
    await assert_finished_once(standin, ch, asked)
    await still_answers(standin, bot, ch)


# ---- REST errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "times"),
    [
        ("PATCH", EDITS, 503, 3),  # discord.py does not retry a 503: the edits fail outright
        ("PATCH", EDITS, 500, 1),  # ... it retries a 500 itself, a second later
        ("POST", MESSAGES, 503, 2),  # the continuation message (and its fallback) is refused
    ],
    ids=["503-on-edits", "500-on-edits", "503-on-creates"],
)
async def test_server_errors_mid_stream_leave_a_finished_reply(sel_env, standin, method, path, status, times):
    bot = await sel_env(**FAST_EDITS)
    ch = standin.general.id
    held = MidStream(bot, standin, ch)
    asked = [await standin.send_message(ch, standin.alice, f"{mention(bot)} tell me about tea")]
    await posted_with_marker(standin, ch)
    standin.inject_error(method, path, status, times=times)
    held.go()
    await assert_finished_once(standin, ch, asked)
    await still_answers(standin, bot, ch)


@pytest.mark.parametrize("path", [MESSAGES, "/channels/*/typing"], ids=["reply", "typing"])
async def test_server_errors_before_the_first_word_still_get_the_question_answered(sel_env, standin, path):
    bot = await sel_env(**FAST_EDITS)
    ch = standin.general.id
    standin.inject_error("POST", path, 503, times=2)
    asked = [await standin.send_message(ch, standin.alice, f"{mention(bot)} tell me about tea")]
    await assert_finished_once(standin, ch, asked)
    assert standin.bot_messages(ch)[-1].content != "…", "the answer was lost to the refused request"
    await still_answers(standin, bot, ch)


@pytest.mark.parametrize("is_global", [False, True], ids=["route", "global"])
async def test_a_storm_of_429s_on_creates_and_edits_is_waited_out(sel_env, standin, is_global):
    bot = await sel_env(**FAST_EDITS)
    ch = standin.general.id
    held = MidStream(bot, standin, ch)
    asked = [await standin.send_message(ch, standin.alice, f"{mention(bot)} tell me about tea")]
    await posted_with_marker(standin, ch)
    for method, path in (("PATCH", EDITS), ("POST", MESSAGES)):
        standin.inject_error(method, path, 429, times=6, retry_after=0.15, is_global=is_global)
    held.go()
    await assert_finished_once(standin, ch, asked)
    assert len(standin.ratelimited) >= 6, "the storm did not reach SEL"
    await still_answers(standin, bot, ch)


# ---- Discord answers nothing -----------------------------------------------------------------


async def test_discord_answering_nothing_for_longer_than_the_heartbeat_timeout(sel_env, standin, monkeypatch):
    # The outage must outlast discord.py's own patience, so that it gives up on the socket and
    # reconnects while REST calls hang: its heartbeat timeout is cut from 60 s to 2 s to keep
    # the test short, and the stand-in stalls for 6 s (the same sequence as a 30 s outage on Discord).
    options = standin.client_options
    monkeypatch.setattr(standin, "client_options", lambda: {**options(), "heartbeat_timeout": 2.0})
    bot = await sel_env(**FAST_EDITS)
    ch = standin.general.id
    held = MidStream(bot, standin, ch)
    asked = [await standin.send_message(ch, standin.alice, f"{mention(bot)} tell me about tea")]
    await posted_with_marker(standin, ch)
    resumes = len(standin.gateway.resumes) + len(standin.gateway.identifies)
    standin.stall(6.0)
    held.go()
    # Posted during the outage: Discord keeps it and delivers it once the bot is back.
    during = asyncio.create_task(standin.send_message(ch, standin.bob, f"{mention(bot)} and about coffee?"))
    asked.append(await during)
    await assert_finished_once(standin, ch, asked)
    assert len(standin.gateway.resumes) + len(standin.gateway.identifies) > resumes, (
        "discord.py was expected to give up on the silent socket and reconnect"
    )
    await still_answers(standin, bot, ch)
