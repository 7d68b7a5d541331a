"""SEL's Discord frontend end to end: the real discord.py against the loopback stand-in,
with tiny generated GGUF models, the real brain and the real memory store."""

from __future__ import annotations

import asyncio
import gc
import itertools
import re
import resource
import time
import tracemalloc

import pytest

from sel.frontends.discord.stream import MARKER
from tests.discord_fixtures import (
    assert_silent_after,
    handled,
    mention,
    prefix,
    replies_in,
    slash,
    spy_on_engine,
)

# ---- messages ------------------------------------------------------------------------------


async def test_mention_gets_a_streamed_reply_edited_at_most_once_per_interval(sel_env, standin) -> None:
    # The tiny model writes ~1500 characters a second: with the default 1 s interval every message
    # would fill up before its first edit, so the test uses 0.4 s to see edits while streaming.
    bot = await sel_env(SEL_MAX_NEW_TOKENS="3500", SEL_CTX="4096", SEL_EDIT_INTERVAL="0.4", SEL_MODE="deep_focus")
    ask = "tell me a long story please, with lots of detail about the turtles and the tea and the trains"
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} {ask}")
    msgs = await replies_in(standin, standin.general.id, timeout=240)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 30, what="the reply task to end")
    msgs = standin.bot_messages(standin.general.id)
    first = msgs[0]
    assert first.reply_to is not None, "the reply should reference the user's message"
    seconds = bot.app.engine.last_stats.decode_seconds
    assert seconds > 2, f"generation took only {seconds:.1f}s: too short to show streaming edits"
    edits = sum(len(m.edits) for m in msgs)
    assert edits > len(msgs), f"{edits} edits over {len(msgs)} messages: the reply was not edited while it streamed"
    assert MARKER.strip() in first.history[0].content, "the in-progress marker is missing while streaming"
    for m in msgs:
        assert MARKER.strip() not in m.content, "the final edit must remove the in-progress marker"
        times = [r.at for r in m.history]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 0.38 for g in gaps), f"a message was edited faster than once per 0.4 s: {gaps}"
        assert len(m.content) <= 2000
    assert not standin.ratelimited, f"streaming caused {len(standin.ratelimited)} 429s"
    assert standin.requests_to("POST", f"/api/v10/channels/{standin.general.id}/typing"), "no typing indicator"


async def test_stream_off_sends_one_message_without_edits(sel_env, standin) -> None:
    bot = await sel_env(SEL_STREAM="0", SEL_MAX_NEW_TOKENS="40")
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hi there")
    msgs = await replies_in(standin, standin.general.id)
    assert len(msgs) == 1 and not msgs[0].edits and msgs[0].content.strip()


async def test_long_reply_continues_in_new_messages_under_the_limit(sel_env, standin) -> None:
    bot = await sel_env(SEL_MAX_NEW_TOKENS="2000", SEL_CTX="4096", SEL_EDIT_INTERVAL="0.2", SEL_MODE="deep_focus")
    ask = "write a lot please, a really long and detailed story about turtles, tea, trains and the moon"
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} {ask}")
    await replies_in(standin, standin.general.id, timeout=240)
    await standin.idle(300)
    msgs = standin.bot_messages(standin.general.id)
    generated = bot.app.engine.last_stats.completion_tokens
    assert sum(len(m.content) for m in msgs) > 2000, f"only {generated} tokens were generated: too short to split"
    assert len(msgs) >= 2, "a reply over 2000 characters must continue in a new message"
    assert all(0 < len(m.content) <= 2000 for m in msgs)
    assert not standin.ratelimited


async def test_dm_gets_an_answer(sel_env, standin) -> None:
    await sel_env()
    dm = standin.dm_channel(standin.bob)
    await standin.send_message(dm.id, standin.bob, "hey, are you around?")
    msgs = await replies_in(standin, dm.id)
    assert msgs[0].content.strip()


async def test_low_priority_chatter_gets_silence(sel_env, standin) -> None:
    bot = await sel_env()
    lol = await standin.send_message(standin.random.id, standin.bob, "lol")
    ok = await standin.send_message(standin.random.id, standin.alice, "haha ok")
    await assert_silent_after(standin, bot, lol, ok)
    assert bot.app.brain.silenced == 2, "both messages should have been taken in as ones SEL stays silent on"


async def test_backlog_older_than_drop_seconds_is_ignored(sel_env, standin) -> None:
    skew = [120.0]  # SEL's clock runs two minutes ahead: every message it sees looks two minutes old
    bot = await sel_env(SEL_DROP_OLD_SECONDS="30", clock=lambda: time.time() + skew[0])
    old = await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} are you there?")
    await assert_silent_after(standin, bot, old)
    skew[0] = 0.0
    fresh = await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} and now?")
    (reply,) = await replies_in(standin, standin.general.id)
    assert reply.reply_to == int(fresh["id"]), "a fresh message must still be answered"


async def test_other_bots_are_ignored(sel_env, standin) -> None:
    bot = await sel_env()
    robot = standin.add_user("robot", bot=True)
    standin.add_member(standin.guild, robot)
    beep = await standin.send_message(standin.general.id, robot, f"{mention(bot)} beep boop answer me")
    await assert_silent_after(standin, bot, beep)


async def test_reply_to_an_older_message_branches_from_the_reply_chain(sel_env, standin) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"{mention(bot)} my cat is called Miso")
    (sel_reply,) = await replies_in(standin, ch, 1)
    unrelated = [await standin.send_message(ch, standin.bob, f"unrelated {n}") for n in ("one", "two", "three")]
    await handled(standin, bot, *unrelated)  # they are in SEL's channel history before the reply arrives
    chained = await standin.send_message(ch, standin.alice, "what did I just say?", reply_to=sel_reply.id)
    msgs = await replies_in(standin, ch, 2)
    assert msgs[-1].reply_to == int(chained["id"])
    texts = spy.last(ch).texts
    assert texts == ["my cat is called Miso", sel_reply.content, "what did I just say?"], (
        f"the context of a reply must be its chain (the first message, SEL's answer), nothing else: {texts}"
    )


async def test_thread_is_its_own_conversation(sel_env, standin) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    trains = await standin.send_message(standin.general.id, standin.bob, "channel talk about trains")
    await handled(standin, bot, trains)  # the parent channel's message is in SEL's history first
    await standin.send_message(standin.thread.id, standin.alice, f"{mention(bot)} thread talk about tea")
    await replies_in(standin, standin.thread.id)
    assert standin.bot_messages(standin.general.id) == [], "the answer belongs in the thread"
    texts = spy.last(standin.thread.id).texts
    assert texts == ["thread talk about tea"], f"the thread's prompt must hold only the thread's messages: {texts}"


async def test_new_messages_while_generating_are_coalesced_into_one_reply(sel_env, standin) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    ch = standin.general.id
    spy.hold()  # SEL stays busy with the first question until released, however fast the machine
    first = await standin.send_message(ch, standin.alice, f"{mention(bot)} first question")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start answering the first question")
    follow_ups = [await standin.send_message(ch, standin.alice, f"{mention(bot)} follow-up {i}") for i in range(5)]
    await handled(standin, bot, *follow_ups)
    spy.release()
    await replies_in(standin, ch, 2, timeout=30)
    await standin.wait_for(
        lambda: not bot.conversation.lanes.running and not bot.conversation.lanes.pending, 30, what="SEL to finish"
    )
    answered = [m.reply_to for m in standin.bot_messages(ch) if m.reply_to is not None]
    assert answered == [int(first["id"]), int(follow_ups[-1]["id"])], (
        "expected one reply to the first message and one to the newest follow-up\n" + standin.transcript(60)
    )
    texts = spy.last(ch).texts
    assert texts[-1] == "follow-up 4" and "follow-up 3" in texts[-2], f"the ones in between are its context: {texts}"


async def test_access_control_blocks_users_and_channels(sel_env, standin) -> None:
    bot = await sel_env(SEL_BLOCKED_USERS=str(standin.bob.id), SEL_ALLOWED_CHANNELS=str(standin.general.id))
    blocked = await standin.send_message(standin.general.id, standin.bob, f"{mention(bot)} hello?")
    await assert_silent_after(standin, bot, blocked)
    elsewhere = await standin.send_message(standin.random.id, standin.alice, f"{mention(bot)} hello from random")
    await assert_silent_after(standin, bot, elsewhere)
    welcome = await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hello from general")
    (reply,) = await replies_in(standin, standin.general.id)
    assert reply.reply_to == int(welcome["id"])


async def test_dms_can_be_turned_off(sel_env, standin) -> None:
    bot = await sel_env(SEL_ALLOW_DMS="0")
    dm = standin.dm_channel(standin.bob)
    hello = await standin.send_message(dm.id, standin.bob, "hello?")
    await assert_silent_after(standin, bot, hello)


async def test_reconnects_after_the_gateway_drops(sel_env, standin) -> None:
    bot = await sel_env()
    await standin.drop_gateway()
    await standin.wait_for(lambda: bot.is_ready() and bot.ws is not None and bot.ws.open, 10, what="reconnect")
    await asyncio.sleep(0.2)
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} still there?")
    await replies_in(standin, standin.general.id, timeout=20)


async def test_flood_over_ten_channels_stays_bounded_and_responsive(sel_env, standin) -> None:
    channels = [standin.add_text_channel(standin.guild, f"flood-{i}") for i in range(10)]
    people = [standin.add_user(f"flooder{i}") for i in range(7)]  # 7 authors per channel: more than may wait
    for person in people:
        standin.add_member(standin.guild, person)
    # One llama.cpp thread: its worker threads spin while they wait, which on a busy 2-core machine
    # can slow a 2-thread generation by orders of magnitude.
    bot = await sel_env(
        SEL_MAX_NEW_TOKENS="8", SEL_EDIT_INTERVAL="0.5", SEL_HISTORY_LIMIT="12", SEL_KV_CACHE_MB="2", SEL_THREADS="1"
    )
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} warm up")  # loads the model
    await replies_in(standin, standin.general.id)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 30, what="the warm-up reply to end")
    waiting_peak = watch_waiting(bot)
    tasks_before = len(bot_side_tasks())
    gc.collect()
    rss_before = current_rss_mb()
    tracemalloc.start()
    try:
        for i in range(200):
            ch = channels[i % 10]
            await standin.send_message(ch.id, people[i % 7], f"{mention(bot)} flood {i}")
        await standin.wait_for(lambda: all(standin.bot_messages(c.id) for c in channels), 60, what="a reply everywhere")
        await standin.wait_for(
            lambda: not bot.conversation.lanes.running and not bot.conversation.lanes.pending,
            90,
            what="SEL to catch up",
        )
        await standin.wait_for(lambda: len(bot_side_tasks()) <= tasks_before, 10, what="the flood's tasks to end")
        gc.collect()
        kept_by_sel_mb = memory_kept_by_sel(tracemalloc.take_snapshot()) / 2**20
    finally:
        tracemalloc.stop()
    rss_growth_mb = current_rss_mb() - rss_before
    assert len(standin.ratelimited) <= 5, f"a 429 storm: {len(standin.ratelimited)} rate-limited requests"
    per_channel = [len([m for m in standin.bot_messages(c.id) if m.reply_to]) for c in channels]
    assert all(1 <= n <= 20 for n in per_channel), f"replies per channel: {per_channel}"
    assert 1 < max(waiting_peak) <= bot.conversation.lanes.max_waiting, (
        f"people waiting in a channel peaked at {max(waiting_peak)}"
    )
    kept = [len(bot.conversation.history.before(c.id, 0)[0]) for c in channels]
    assert all(n <= 12 for n in kept), f"each channel's history must stay within SEL_HISTORY_LIMIT=12: {kept}"
    kv_mb = bot.app.engine.status()["kv_snapshot_mb"]  # in MB (10**6 bytes), rounded to 0.1
    assert kv_mb <= round(2 * 2**20 / 1e6, 1), f"KV snapshots ({kv_mb} MB) exceed SEL_KV_CACHE_MB=2"
    # Besides the KV snapshots, what SEL's own code allocated during the flood and still holds is
    # bounded bookkeeping (about 0.1 MB here); keeping some kilobytes per reply would show.
    assert kept_by_sel_mb < 0.5, f"SEL's code still holds {kept_by_sel_mb:.2f} MB allocated during the flood"
    # Everything else in the process (llama.cpp, the stand-in's records, TLS buffers) shows in the resident size.
    assert rss_growth_mb < 100, f"resident memory grew by {rss_growth_mb:.0f} MB during the flood"
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} you ok after that?")
    await replies_in(standin, standin.general.id, 2, timeout=20)


def watch_waiting(bot) -> list[int]:
    """Record, after every message SEL queues, the most people waiting in any one channel."""
    peaks = [0]
    submit = bot.conversation.lanes.submit

    def watched(channel_id: int, job) -> None:
        submit(channel_id, job)
        peaks.append(max((len(w) for w in bot.conversation.lanes.pending.values()), default=0))

    bot.conversation.lanes.submit = watched
    return peaks


def memory_kept_by_sel(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still allocated (of those traced) that a line of SEL's own code allocated, KV snapshots aside."""
    ours = snapshot.filter_traces(
        [tracemalloc.Filter(True, "*/sel/*"), tracemalloc.Filter(False, "*/sel/llm/kvstate.py")]
    )
    return sum(stat.size for stat in ours.statistics("filename"))


def bot_side_tasks() -> list[asyncio.Task]:
    """The loop's tasks, minus the stand-in server's per-connection handlers (aiohttp keeps those alive)."""
    return [t for t in asyncio.all_tasks() if "aiohttp/web_protocol" not in t.get_coro().cr_code.co_filename]


def current_rss_mb() -> float:
    """Resident memory now (not the peak so far, which can only grow)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


# ---- commands ------------------------------------------------------------------------------


async def test_mood_why_status_help_as_prefix_and_slash(sel_env, standin) -> None:
    bot = await sel_env()
    assert "dopamine" in await prefix(standin, standin.bob, "!mood")
    assert "dopamine" in (await slash(standin, standin.bob, "mood")).content
    assert "memories" in await prefix(standin, standin.bob, "!status")
    assert "tokens/s" in (await slash(standin, standin.bob, "status")).content
    assert "remember on|off" in await prefix(standin, standin.bob, "!help")
    assert "memsvg" in (await slash(standin, standin.bob, "help")).content
    lol = await standin.send_message(standin.random.id, standin.bob, "lol")
    await handled(standin, bot, lol)
    why = await prefix(standin, standin.bob, "!why", channel=standin.random.id)
    assert why.startswith("route: general") and "reply: no" in why, why
    assert "no message decided in this channel yet" in (await slash(standin, standin.bob, "why")).content
    dm = standin.dm_channel(standin.alice)
    await standin.send_message(dm.id, standin.alice, "my secret_diary.py has a bug")
    await replies_in(standin, dm.id)
    assert "secret" not in (await slash(standin, standin.bob, "why")).content, "another channel's decision leaked"


async def test_each_command_is_one_prefix_command_and_one_sel_subcommand_with_the_same_options(
    sel_env, standin
) -> None:
    from sel.config import MODES

    bot = await sel_env()
    synced = standin.world.command_named("sel", None)
    assert synced is not None and [c.payload["name"] for c in standin.world.commands.values()] == ["sel"]
    options = {
        sub["name"]: [
            (o["name"], o["type"], o.get("required", False), [c["value"] for c in o.get("choices", [])])
            for o in sub.get("options", [])
        ]
        for sub in synced.payload["options"]
    }
    assert options == {
        "memsvg": [],
        "remember": [("setting", 3, False, ["on", "off"]), ("scope", 3, False, ["anywhere", "here", "dm"])],
        "forget": [("confirm", 5, False, []), ("about", 3, False, []), ("memory", 3, False, [])],
        "export": [],
        "mood": [],
        "why": [],
        "mode": [("name", 3, True, list(MODES))],
        "persona": [("scope", 3, False, ["channel", "server"]), ("text", 3, False, [])],
        "reload": [],
        "model": [("slot", 3, False, ["general", "coder", "vision"]), ("name", 3, False, [])],
        "status": [],
        "help": [],
        "retry": [],
        "continue": [],
        "reset": [],
        "join": [],
        "leave": [],
        "say": [("text", 3, True, [])],
        "listen": [("setting", 3, True, ["on", "off"])],
    }, "the /sel subcommands changed: people's Discord clients would show different commands"
    assert sorted(c.name for c in bot.commands) == sorted(options), "each /sel subcommand has a prefix twin"
    # `remember` given no argument says how to use it.
    assert await prefix(standin, standin.alice, "!remember") == (
        "Use `!remember on|off`, or `!remember anywhere|here|dm` for where."
    )


async def test_mode_needs_owner_or_admin(sel_env, standin) -> None:
    bot = await sel_env()
    here = (str(standin.guild.id), str(standin.general.id))  # in a server, the mode is the channel's
    assert "only the bot owner or a server admin" in (await prefix(standin, standin.bob, "!mode playful")).lower()
    assert bot.app.place(*here).mode is None
    assert "playful" in await prefix(standin, standin.alice, "!mode playful")
    assert bot.app.place(*here).mode == "playful"
    refused = await slash(standin, standin.bob, "mode", name="deep_focus")
    assert "only the bot owner" in refused.content.lower()
    assert "quiet_companion" in (await slash(standin, standin.alice, "mode", name="quiet_companion")).content
    assert bot.app.place(*here).mode == "quiet_companion"
    assert "casual" in (await prefix(standin, standin.alice, "!mode grumpy")).lower()


async def test_consent_memsvg_export_and_forget(sel_env, standin) -> None:
    bot = await sel_env()
    ch = standin.general.id
    assert "don't keep memories" in await prefix(standin, standin.alice, "!memsvg")
    assert "remember" in (await prefix(standin, standin.alice, "!remember on")).lower()
    await standin.send_message(ch, standin.alice, f"{mention(bot)} my turtle is called Shelly")
    await replies_in(standin, ch, 3)
    await standin.idle(300)
    assert "Sent you a DM with your memory map" in await prefix(standin, standin.alice, "!memsvg")
    assert not any(m.attachments for m in standin.bot_messages(ch)), "the memory map was posted in the channel"
    svg_msg = standin.bot_messages(standin.dm_channel(standin.alice).id)[-1]
    assert "Here's what I remember" in svg_msg.content
    svg = svg_msg.attachments[0].data.decode()
    assert svg.startswith("<svg") or svg.startswith("<?xml"), svg[:80]
    assert "Shelly" in svg, "the memory map must show the remembered fact"

    assert "Sent you a DM" in await prefix(standin, standin.alice, "!export")
    dm = standin.dm_channel(standin.alice)
    exported = standin.bot_messages(dm.id)[-1].attachments[0].data.decode()
    assert "Shelly" in exported

    assert "forget confirm" in await prefix(standin, standin.alice, "!forget")
    assert "forgotten everything" in await prefix(standin, standin.alice, "!forget confirm")
    assert "don't keep memories" in await prefix(standin, standin.alice, "!memsvg")
    assert not bot.app.memory_store.has_consent(str(standin.alice.id))
    await asyncio.to_thread(bot.app.memory_store.checkpoint, force=True)
    for path in bot.app.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Shelly" not in data and str(standin.alice.id).encode() not in data, f"{path} still knows alice"


async def test_consent_and_memsvg_as_slash_commands(sel_env, standin) -> None:
    bot = await sel_env()
    assert "remember" in (await slash(standin, standin.bob, "remember", setting="on")).content.lower()
    assert bot.app.memory_store.has_consent(str(standin.bob.id))
    bot.app.memory_store.add(str(standin.bob.id), "I play the <b>cello</b> & sing")
    assert "Sent you a DM" in (await slash(standin, standin.bob, "memsvg")).content
    msg = standin.bot_messages(standin.dm_channel(standin.bob).id)[-1]
    assert msg.attachments and "cello" in msg.attachments[0].data.decode()
    assert "&lt;b&gt;" in msg.attachments[0].data.decode(), "user text in the SVG must be escaped"
    dm = standin.dm_channel(standin.bob)
    await standin.send_message(dm.id, standin.bob, "!memsvg")
    in_dm = await standin.wait_for(lambda: [m for m in standin.bot_messages(dm.id) if m.attachments][1:], 10)
    assert "cello" in in_dm[-1].attachments[0].data.decode(), "in a DM the map comes as a reply"
    assert "forget confirm" in (await slash(standin, standin.bob, "forget")).content
    assert "forgotten" in (await slash(standin, standin.bob, "forget", confirm=True)).content
    assert not bot.app.memory_store.has_consent(str(standin.bob.id))
    assert "stopped" in (await slash(standin, standin.bob, "remember", setting="off")).content


async def test_voice_commands_answer_when_not_in_voice(sel_env, standin) -> None:
    await sel_env()
    assert "join a voice channel first" in (await prefix(standin, standin.bob, "!join")).lower()
    assert "not in a voice channel" in (await prefix(standin, standin.bob, "!leave")).lower()
    assert "join" in (await prefix(standin, standin.bob, "!say hello")).lower()
    assert "voice channel" in (await slash(standin, standin.bob, "leave")).content.lower()


# ---- attachments -----------------------------------------------------------------------------


async def test_small_code_file_is_read_and_routed_to_the_coder(sel_env, standin, tiny_models) -> None:
    from tests.standin.server import FileSpec

    bot = await sel_env()
    spy = spy_on_engine(bot)
    code = b"def add(a, b):\n    return a - b  # bug?\n"
    await standin.send_message(
        standin.general.id,
        standin.alice,
        f"{mention(bot)} why is this wrong",
        attachments=[FileSpec("add.py", code, "text/x-python")],
    )
    await replies_in(standin, standin.general.id)
    asked = spy.last(standin.general.id)
    assert asked.slot == "coder"
    assert "why is this wrong" in asked.texts[-1]
    assert "[file add.py]" in asked.texts[-1] and code.decode().strip() in asked.texts[-1], (
        f"the file's content must reach the prompt: {asked.texts[-1]!r}"
    )
    assert bot.app.engine.last_stats.model_path == str(tiny_models.coder)


async def test_a_trace_in_a_text_file_is_decided_on_once_and_answered_by_the_coder(sel_env, standin) -> None:
    from tests.standin.server import FileSpec

    bot = await sel_env()
    spy = spy_on_engine(bot)
    decided = count_decisions(bot)
    trace = b'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\nZeroDivisionError: oops\n'
    await standin.send_message(
        standin.general.id,
        standin.alice,
        f"{mention(bot)} what does this mean?",
        attachments=[FileSpec("output.txt", trace, "text/plain")],
    )
    await replies_in(standin, standin.general.id)
    assert decided == ["what does this mean?"], f"one decision per message, made before reading its files: {decided}"
    answered = spy.last(standin.general.id)
    assert "ZeroDivisionError" in answered.texts[-1], answered.texts[-1]
    assert answered.slot == "coder", "what the file says routes the message: a stack trace is for the coder"


def count_decisions(bot) -> list[str]:
    """The texts the brain decides on from now on, one entry per decision."""
    decided: list[str] = []
    decide = bot.app.brain.decide

    def counted(incoming, now=None):
        decided.append(incoming.text)
        return decide(incoming, now=now)

    bot.app.brain.decide = counted
    return decided


async def test_too_large_file_is_refused_before_downloading(sel_env, standin) -> None:
    from tests.standin.server import FileSpec

    bot = await sel_env()
    big = b"x" * (150 * 1024)
    await standin.send_message(
        standin.general.id,
        standin.alice,
        f"{mention(bot)} read this",
        attachments=[FileSpec("huge.txt", big, "text/plain")],
    )
    msgs = await replies_in(standin, standin.general.id)
    assert "too large" in msgs[0].content
    assert not [r for r in standin.requests if "/attachments/" in r.path], "the file was downloaded anyway"


async def test_image_without_vision_model_gets_a_friendly_answer(sel_env, standin) -> None:
    from tests.standin.server import FileSpec

    bot = await sel_env()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    await standin.send_message(
        standin.general.id,
        standin.alice,
        f"{mention(bot)} what's in this screenshot?",
        attachments=[FileSpec("screen.png", png, "image/png")],
    )
    msgs = await replies_in(standin, standin.general.id)
    assert re.search(r"image|picture|see", msgs[0].content, re.I), msgs[0].content


# ---- start-up and shutdown -------------------------------------------------------------------


async def test_invalid_token_is_one_clear_error(standin, make_settings) -> None:
    from sel.errors import ConfigError
    from sel.frontends.discord import serve

    settings = make_settings(DISCORD_TOKEN="not-the-right-token")
    with pytest.raises(ConfigError, match=r"Discord refused DISCORD_TOKEN .*Reset Token") as info:
        await serve(settings, **standin.client_options())
    assert "not-the-right-token" not in str(info.value)


async def test_refused_message_content_intent_names_the_portal_switch(standin, make_settings) -> None:
    from sel.errors import ConfigError
    from sel.frontends.discord import serve
    from tests.standin.gateway import MESSAGE_CONTENT, PRIVILEGED_INTENTS

    standin.approved_intents = PRIVILEGED_INTENTS & ~MESSAGE_CONTENT
    settings = make_settings(DISCORD_TOKEN=standin.token)
    with pytest.raises(ConfigError, match="Message Content Intent"):
        await serve(settings, **standin.client_options())


async def test_closing_mid_reply_cancels_the_generation_and_saves_the_mood(sel_env, standin) -> None:
    bot = await sel_env(SEL_MAX_NEW_TOKENS="4000", SEL_CTX="4096", SEL_EDIT_INTERVAL="0.2", SEL_MODE="deep_focus")
    state_file = bot.app.settings.data_dir / "hormones.json"
    await standin.send_message(
        standin.general.id, standin.alice, f"{mention(bot)} please write an extremely long essay about everything"
    )
    await standin.wait_for(lambda: standin.bot_messages(standin.general.id), 10, what="the reply to start")
    await bot.close()
    assert not bot.conversation.lanes.running, "the reply task survived the shutdown"
    stats = bot.app.engine.last_stats
    await asyncio.to_thread(bot.app.engine.run_blocking, lambda llm: None)
    assert stats.cancelled and stats.completion_tokens < 4000
    state_file.unlink(missing_ok=True)
    await bot.app.aclose()  # what `sel discord` does after the bot closed (Ctrl-C)
    assert state_file.exists(), "the mood must be flushed to disk on shutdown"


async def test_export_and_voice_commands_as_slash(sel_env, standin) -> None:
    bot = await sel_env()
    assert "remember" in (await slash(standin, standin.alice, "remember", setting="on")).content.lower()
    await asyncio.to_thread(bot.app.memory_store.add, str(standin.alice.id), "I collect vintage maps", hard=True)
    assert "Sent you a DM" in (await slash(standin, standin.alice, "export")).content
    exported = standin.bot_messages(standin.dm_channel(standin.alice).id)[-1].attachments[0].data.decode()
    assert "vintage maps" in exported
    assert "join a voice channel first" in (await slash(standin, standin.bob, "join")).content.lower()
    assert "not in a voice channel" in (await slash(standin, standin.bob, "say", text="hi")).content.lower()


async def test_checkin_after_a_lull_driven_by_an_injected_clock(sel_env, standin) -> None:
    now = [time.time()]
    bot = await sel_env(SEL_CHECKINS="1", clock=lambda: now[0])
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"{mention(bot)} good morning!")
    await replies_in(standin, ch, 1)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 10, what="the reply task to end")
    await bot.conversation.tick()
    assert len(standin.bot_messages(ch)) == 1, "no check-in right after a conversation"
    now[0] += 7 * 3600
    await bot.conversation.tick()
    msgs = await standin.wait_for(lambda: len(standin.bot_messages(ch)) == 2 and standin.bot_messages(ch), 5)
    assert msgs[-1].reply_to is None and msgs[-1].content.strip()
    await bot.conversation.tick()
    assert len(standin.bot_messages(ch)) == 2, "only one check-in per lull"
    assert standin.bot_messages(standin.random.id) == [], "never where SEL has not been talking"


async def test_blocked_users_keep_their_data_rights_but_nothing_else(sel_env, standin) -> None:
    bot = await sel_env(SEL_BLOCKED_USERS=str(standin.bob.id))
    ch = standin.general.id
    mood = await standin.send_message(ch, standin.bob, "!mood")
    await assert_silent_after(standin, bot, mood)  # a blocked user's command is not answered
    assert "not available to you" in (await slash(standin, standin.bob, "mood")).content
    assert "forget confirm" in await prefix(standin, standin.bob, "!forget")
    assert "stopped" in (await slash(standin, standin.bob, "remember", setting="off")).content
    assert "not available to you" in (await slash(standin, standin.bob, "remember", setting="on")).content
    opt_in = await standin.send_message(standin.general.id, standin.bob, "!remember on")
    await handled(standin, bot, opt_in)
    assert not bot.app.memory_store.has_consent(str(standin.bob.id)), "a blocked user must not be able to opt in"


async def test_edited_and_deleted_messages_change_what_sel_reads(sel_env, standin) -> None:
    bot = await sel_env()
    ch = standin.random.id
    first = await standin.send_message(ch, standin.bob, "my favourite colour is red")
    second = await standin.send_message(ch, standin.bob, "and I like trains")
    await standin.wait_for(
        lambda: bot.conversation.history.find(ch, int(second["id"])), 5, what="the messages in SEL's history"
    )
    await standin.edit_user_message(ch, int(first["id"]), "my favourite colour is green")
    await standin.delete_user_message(ch, int(second["id"]))
    await standin.wait_for(lambda: bot.conversation.history.find(ch, int(second["id"])) is None, 5, what="the deletion")
    entries, _ = bot.conversation.history.before(ch, 0)
    assert [e.text for e in entries] == ["my favourite colour is green"]


async def test_reply_goes_to_the_channel_when_the_message_cannot_be_replied_to(sel_env, standin) -> None:
    bot = await sel_env()
    ch = standin.general.id
    standin.inject_error("POST", f"/channels/{ch}/messages", 400, 50035, message="Unknown message reference")
    await standin.send_message(ch, standin.alice, f"{mention(bot)} hello!")
    msgs = await replies_in(standin, ch)
    assert msgs[0].reply_to is None and msgs[0].content.strip()


async def test_unaddressed_attachments_are_neither_downloaded_nor_answered(sel_env, standin) -> None:
    from tests.standin.server import FileSpec

    bot = await sel_env()
    ch = standin.random.id
    zipped = await standin.send_message(
        ch, standin.bob, "", attachments=[FileSpec("holiday.zip", b"PK\x03\x04", "application/zip")]
    )
    big_log = FileSpec("server.log", b"log line\n" * 25_000, "text/plain")
    log_file = await standin.send_message(ch, standin.alice, "ok here it is", attachments=[big_log])
    await assert_silent_after(standin, bot, zipped, log_file)
    assert not [r for r in standin.requests if "/attachments/" in r.path], "unaddressed attachments were downloaded"


async def test_every_person_who_mentions_sel_while_it_is_busy_gets_an_answer(sel_env, standin) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    carol = standin.add_user("carol")
    standin.add_member(standin.guild, carol)
    ch = standin.general.id
    spy.hold()  # SEL stays busy with the first question until released, however fast the machine
    first = await standin.send_message(ch, standin.alice, f"{mention(bot)} first question")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start answering the first question")
    sent = []
    for name, person in (("bob", standin.bob), ("carol", carol), ("bob", standin.bob)):
        sent.append(await standin.send_message(ch, person, f"{mention(bot)} question from {name}"))
    await handled(standin, bot, *sent)
    spy.release()
    await replies_in(standin, ch, 3, timeout=30)
    await standin.wait_for(
        lambda: not bot.conversation.lanes.running and not bot.conversation.lanes.pending, 30, what="SEL to finish"
    )
    answered = [m.reply_to for m in standin.bot_messages(ch) if m.reply_to]
    # bob's second message replaces his first, in his place in line: bob is answered before carol
    expected = [int(first["id"]), int(sent[2]["id"]), int(sent[1]["id"])]
    assert answered == expected, f"expected the first question, bob's newest, then carol's: {answered} != {expected}"


async def test_the_application_owner_is_never_locked_out(sel_env, standin) -> None:
    bot = await sel_env(SEL_ALLOWED_USERS=str(standin.bob.id))
    assert standin.alice.id in bot.owners, "the owner comes from the application info at start-up"
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} it's me, your owner")
    await replies_in(standin, standin.general.id)


async def test_a_bare_mention_gets_an_answer(sel_env, standin) -> None:
    bot = await sel_env()
    await standin.send_message(standin.general.id, standin.alice, mention(bot))
    msgs = await replies_in(standin, standin.general.id)
    assert msgs[0].content.strip()


async def test_a_context_too_small_for_the_prompt_gets_a_clear_answer(sel_env, standin, tiny_models) -> None:
    bot = await sel_env(SEL_CTX="256", SEL_GENERAL_MODEL=str(tiny_models.chat), SEL_CODER_MODEL=str(tiny_models.chat))
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hello there")
    msgs = await replies_in(standin, standin.general.id)
    assert "my model isn't working" in msgs[0].content, msgs[0].content


async def test_files_sel_cannot_open_are_refused_alone_and_noted_beside_words(sel_env, standin) -> None:
    from tests.standin.server import FileSpec

    bot = await sel_env()
    ch = standin.general.id
    zip_file = FileSpec("holiday.zip", b"PK\x03\x04", "application/zip")
    await standin.send_message(ch, standin.alice, mention(bot), attachments=[zip_file])
    refused = await replies_in(standin, ch, 1)
    assert refused[0].content.startswith("I can't open holiday.zip"), refused[0].content
    await standin.send_message(ch, standin.alice, f"{mention(bot)} what do you think?", attachments=[zip_file])
    answered = await replies_in(standin, ch, 2)
    assert answered[1].content.startswith("-# (I can't open holiday.zip.)\n"), answered[1].content
