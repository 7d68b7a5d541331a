"""Hostile Discord payloads through the stand-in: huge embeds, zero-width text, 4000-character messages,
reply chains hundreds deep (and looping), unknown and oddly named attachments.

SEL stays up and answers sanely or stays silent: no handler fails, nothing it posts is over
Discord's limit or pings anyone, and it answers an ordinary message afterwards.
"""

from __future__ import annotations

from typing import Any

from sel.frontends.discord.bot import SelBot
from sel.frontends.discord.stream import MARKER
from tests.discord_fixtures import handled, mention, replies_in
from tests.standin.server import DiscordStandin, FileSpec

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


async def assert_sane(standin: DiscordStandin, bot: SelBot, *sent: dict[str, Any]) -> None:
    """Every message was handled without an exception; what SEL posted fits Discord and pings nobody."""
    await handled(standin, bot, *sent, timeout=90)
    lanes = bot.conversation.lanes
    await standin.wait_for(lambda: not lanes.running and not lanes.pending, 90, what="SEL to finish replying")
    await standin.idle(200, timeout=60)
    for channel in {int(s["channel_id"]) for s in sent}:
        for message in standin.bot_messages(channel):
            assert 0 < len(message.content) <= 2000, f"a message of {len(message.content)} characters"
            assert not message.content.endswith(MARKER.strip()), f"a reply was left unfinished: {message.content!r}"
    for request in standin.requests_to("POST", "/channels/*/messages"):
        allowed = (request.json or {}).get("allowed_mentions") or {}
        assert "everyone" not in allowed.get("parse", []), f"SEL may ping @everyone: {request.json}"


async def still_answers(standin: DiscordStandin, bot: SelBot) -> None:
    ch = standin.random.id
    before = len(standin.bot_messages(ch))
    await standin.send_message(ch, standin.bob, f"{mention(bot)} all good?")
    await replies_in(standin, ch, count=before + 1, timeout=90)


async def test_huge_embeds_zero_width_text_and_4000_characters(sel_env, standin) -> None:
    bot = await sel_env()
    field = {"name": "n" * 256, "value": "v" * 1024, "inline": False}
    embed = {"type": "rich", "title": "t" * 256, "description": "d" * 4096, "fields": [field] * 25}
    sent = [
        await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} look", embeds=[embed] * 10),
        await standin.send_message(standin.thread.id, standin.alice, f"{mention(bot)} {ZERO_WIDTH * 50}"),
        await standin.send_message(standin.random.id, standin.bob, ZERO_WIDTH * 400),  # not for SEL: silence
        await standin.send_message(standin.dm_channel(standin.bob).id, standin.bob, "tea " * 1000),  # 4000 chars
        await standin.send_message(standin.general.id, standin.bob, "@everyone @here <@&1> " + "ping " * 700),
    ]
    await assert_sane(standin, bot, *sent)
    assert [m for m in standin.bot_messages(standin.general.id) if m.reply_to == int(sent[0]["id"])], (
        "a mention with huge embeds deserves an answer"
    )
    assert not standin.bot_messages(standin.random.id), "SEL answered zero-width noise nobody addressed to it"
    await still_answers(standin, bot)


async def test_reply_chains_hundreds_deep_or_looping_are_read_only_so_far(sel_env, standin) -> None:
    bot = await sel_env()
    ch = standin.general.id
    world, now = standin.world, standin.clock()
    previous = None
    for i in range(300):  # a conversation of 300 replies, each to the one before
        previous = world.create_message(ch, standin.alice.id, f"step {i}", now=now, reply_to=previous and previous.id)
    assert previous is not None
    first = world.create_message(ch, standin.bob.id, "loop a", now=now)
    second = world.create_message(ch, standin.bob.id, "loop b", now=now, reply_to=first.id)
    first.reply_to = second.id  # a loop no real Discord makes, but a payload can claim
    sent = [
        await standin.send_message(ch, standin.alice, f"{mention(bot)} what was step one?", reply_to=previous.id),
        await standin.send_message(ch, standin.bob, f"{mention(bot)} round and round", reply_to=second.id),
        await standin.send_message(ch, standin.bob, f"{mention(bot)} that one is gone", reply_to=10**18),
    ]
    await assert_sane(standin, bot, *sent)
    answered = {m.reply_to for m in standin.bot_messages(ch)}
    assert all(int(s["id"]) in answered for s in sent), "every reply deserves an answer"
    fetched = standin.requests_to("GET", f"/channels/{ch}/messages/*")
    assert len(fetched) <= 3 * 25, f"SEL fetched {len(fetched)} messages to follow reply chains"
    await still_answers(standin, bot)


async def test_unknown_and_oddly_named_attachments(sel_env, standin) -> None:
    bot = await sel_env()
    odd = [
        FileSpec("blob.xyz", b"\x00\x01\x02" * 100, "application/x-unknown"),
        FileSpec("no-extension", b"hello", None),
        FileSpec("../../etc/passwd", b"root:x:0:0", "text/plain"),
        FileSpec("evil\u202etxt.exe", b"MZ\x90\x00", "application/octet-stream"),
        FileSpec("n" * 250 + ".py", "print('é')\n".encode() + b"\xff\xfe", "text/x-python"),
        FileSpec("empty.txt", b"", "text/plain"),
    ]
    only_files = await standin.send_message(standin.general.id, standin.alice, mention(bot), attachments=odd[:2])
    with_text = await standin.send_message(
        standin.thread.id, standin.alice, f"{mention(bot)} what are these?", attachments=odd
    )
    await assert_sane(standin, bot, only_files, with_text)
    refusal = [m for m in standin.bot_messages(standin.general.id) if m.reply_to == int(only_files["id"])]
    assert refusal and "can't open" in refusal[0].content, "files SEL cannot open, and nothing else, get a refusal"
    assert [m for m in standin.bot_messages(standin.thread.id) if m.reply_to == int(with_text["id"])]
    await still_answers(standin, bot)
