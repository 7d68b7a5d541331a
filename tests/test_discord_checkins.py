"""Check-ins written by the model: through the stand-in, with a scripted tiny GGUF whose words are known."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sel.config import load_settings
from sel.errors import ModelError
from sel.frontends.discord.checkins import DAY, LINES_CALM, LINES_CHEERFUL, CheckinBook
from tests.discord_fixtures import mention, replies_in, spy_on_engine
from tests.gguf_scripted import write_scripted_llama

SCRIPT = ["Hiya", " turtle-fans,", " still around?"]
WRITTEN = "".join(SCRIPT)
HOUR = 3600.0


async def _start(sel_env, standin, tmp_path: Path, now: list[float], **env: str) -> Any:
    model = write_scripted_llama(tmp_path / "script.gguf", SCRIPT)
    standin.clock = lambda: now[0]  # messages are written at SEL's time, so they are not stale after a lull
    return await sel_env(SEL_GENERAL_MODEL=str(model), SEL_TEMPERATURE="0", clock=lambda: now[0], **env)


async def _talk(standin, bot, text: str) -> None:
    ch = standin.general.id
    count = len(standin.bot_messages(ch))
    await standin.send_message(ch, standin.alice, f"{mention(bot)} {text}")
    await replies_in(standin, ch, count + 1)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 30, what="the reply to finish")


async def test_the_model_writes_the_check_in_once_per_lull_and_within_the_daily_cap(
    sel_env, standin, tmp_path: Path
) -> None:
    now = [time.time()]
    bot = await _start(sel_env, standin, tmp_path, now, SEL_CHECKINS="1", SEL_CHECKINS_PER_DAY="1")
    ch = standin.general.id
    await _talk(standin, bot, "good morning!")
    spy = spy_on_engine(bot)
    now[0] += 7 * HOUR
    await bot.conversation.tick()
    msgs = await standin.wait_for(lambda: len(standin.bot_messages(ch)) == 2 and standin.bot_messages(ch), 10)
    assert msgs[-1].content == WRITTEN, "the check-in should be the model's words"
    assert msgs[-1].reply_to is None
    asked = spy.last(ch)
    assert "checking in on Alice," in asked.plan.late_note, "the check-in is written for the person who talked with SEL"
    assert "good morning!" in asked.texts, "the model sees the end of the conversation"

    await bot.conversation.tick()
    assert len(standin.bot_messages(ch)) == 2, "only one check-in per lull"
    now[0] += 600
    await _talk(standin, bot, "back again")  # a new lull starts after this reply
    now[0] += 7 * HOUR
    await bot.conversation.tick()
    assert len(standin.bot_messages(ch)) == 3, "SEL_CHECKINS_PER_DAY=1: no second check-in within a day"


async def test_no_check_ins_unless_the_owner_turns_them_on(sel_env, standin, tmp_path: Path) -> None:
    now = [time.time()]
    bot = await _start(sel_env, standin, tmp_path, now)
    await _talk(standin, bot, "good morning!")
    now[0] += 7 * HOUR
    await bot.conversation.tick()
    await standin.idle(150)
    assert len(standin.bot_messages(standin.general.id)) == 1, "check-ins are opt-in (SEL_CHECKINS)"


class FailingEngine:
    """Stands for a model that breaks while writing (the real engine is kept for the replies)."""

    def __init__(self, engine: Any) -> None:
        self.real = engine.stream
        self.fail = False
        engine.stream = self.stream

    async def stream(self, slot: str, plan: Any, **kwargs: Any) -> AsyncIterator[str]:
        if self.fail:
            raise ModelError("the model file is damaged")
        async for piece in self.real(slot, plan, **kwargs):
            yield piece


async def test_a_canned_line_only_when_the_model_fails(sel_env, standin, tmp_path: Path, caplog) -> None:
    now = [time.time()]
    bot = await _start(sel_env, standin, tmp_path, now, SEL_CHECKINS="1")
    ch = standin.general.id
    engine = FailingEngine(bot.app.engine)
    await _talk(standin, bot, "good morning!")
    engine.fail = True
    now[0] += 7 * HOUR
    await bot.conversation.tick()
    msgs = await standin.wait_for(lambda: len(standin.bot_messages(ch)) == 2 and standin.bot_messages(ch), 10)
    assert msgs[-1].content in LINES_CALM + LINES_CHEERFUL
    assert "could not write a check-in" in caplog.text, "the fallback must be logged"


def test_check_ins_go_only_where_someone_talked_with_sel_in_the_last_day() -> None:
    book = CheckinBook(load_settings({"SEL_CHECKINS": "1", "SEL_CHECKINS_PER_DAY": "5"}).discord)
    book.saw_message(1, 0.0, to_sel=True, author="ana")
    book.sel_spoke(1, 0.0)
    assert book.due(7 * HOUR, {}) == [1]
    assert book.people(1, 7 * HOUR) == ["ana"]
    book.checked_in(1, 7 * HOUR)
    book.saw_message(1, 20 * HOUR, to_sel=False)  # others chat among themselves; nobody talks with SEL
    assert book.due(DAY + 7 * HOUR, {}) == [], "SEL's own check-in is no conversation: it must not check in again"
    assert book.people(1, DAY + 7 * HOUR) == [], "ana talked with SEL over a day ago"
