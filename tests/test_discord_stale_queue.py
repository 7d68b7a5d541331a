"""A message that waited in line past SEL_DROP_OLD_SECONDS is taken in without a reply when its
turn comes: the real bot against the stand-in, its real engine held back so that SEL stays busy,
and one clock shared by SEL and the stand-in moved forward instead of waiting for real time."""

from __future__ import annotations

import time
from typing import Any

from tests.discord_fixtures import handled, mention, replies_in, spy_on_engine
from tests.standin.server import DiscordStandin


async def test_a_message_that_went_stale_in_line_gets_no_reply_while_a_fresh_one_does(
    sel_env: Any, standin: DiscordStandin
) -> None:
    skew = [0.0]

    def clock() -> float:
        return time.time() + skew[0]

    standin.clock = clock  # messages are stamped with the same time SEL reads
    bot = await sel_env(SEL_DROP_OLD_SECONDS="30", clock=clock)
    spy = spy_on_engine(bot)
    ch = standin.general.id
    carol = standin.add_user("carol")
    standin.add_member(standin.guild, carol)

    spy.hold()
    first = await standin.send_message(ch, standin.alice, f"{mention(bot)} first question")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start answering the first question")
    waited = await standin.send_message(ch, standin.bob, f"{mention(bot)} what about the old topic?")
    await handled(standin, bot, waited)
    assert standin.bob.id in {int(a) for a in bot.conversation.lanes.pending.get(ch, {})}, (
        "bob's fresh question should wait in line (it must not be dropped on arrival)"
    )
    skew[0] = 60.0  # a minute passes while SEL is still busy: bob's question is now twice too old
    fresh = await standin.send_message(ch, carol, f"{mention(bot)} a brand new question")
    await handled(standin, bot, fresh)
    spy.release()

    await replies_in(standin, ch, 2, timeout=60)
    lanes = bot.conversation.lanes
    await standin.wait_for(lambda: not lanes.running and not lanes.pending, 30, what="SEL to finish")
    answered = [m.reply_to for m in standin.bot_messages(ch) if m.reply_to is not None]
    names = {int(first["id"]): "alice", int(waited["id"]): "bob (stale)", int(fresh["id"]): "carol"}
    assert answered == [int(first["id"]), int(fresh["id"])], (
        f"expected replies to alice's and carol's questions only; got {[names.get(i, i) for i in answered]}"
    )
    await standin.wait_for(lambda: bot.app.brain.silenced >= 1, 10, what="bob's stale question to be taken in")
    assert bot.app.brain.silenced == 1, "only bob's stale question may be taken in without a reply"
    assert any("old topic" in text for text in spy.last(ch).texts), (
        "bob's stale question should still be in the context SEL answers carol with"
    )


async def test_a_dm_that_went_stale_in_line_gets_no_reply_either(sel_env: Any, standin: DiscordStandin) -> None:
    skew = [0.0]

    def clock() -> float:
        return time.time() + skew[0]

    standin.clock = clock
    bot = await sel_env(SEL_DROP_OLD_SECONDS="30", clock=clock)
    spy = spy_on_engine(bot)
    dm = standin.dm_channel(standin.bob)

    spy.hold()
    await standin.send_message(dm.id, standin.bob, "hey, can you help me with something?")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start answering the first DM")
    waited = await standin.send_message(dm.id, standin.bob, "and what about the other thing?")
    await handled(standin, bot, waited)
    assert bot.conversation.lanes.pending.get(dm.id), "the second DM should wait in line"
    skew[0] = 60.0  # the DM rule is the channel rule: on arrival and at its turn alike
    spy.release()

    await replies_in(standin, dm.id, 1, timeout=60)
    lanes = bot.conversation.lanes
    await standin.wait_for(lambda: not lanes.running and not lanes.pending, 30, what="SEL to finish")
    said = [m.content for m in standin.bot_messages(dm.id)]
    assert len(said) == 1, f"only the first DM may be answered (a DM reply is not linked); SEL said {said}"
    await standin.wait_for(lambda: bot.app.brain.silenced >= 1, 10, what="the stale DM to be taken in")
