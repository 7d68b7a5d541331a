"""Forgetting one memory on Discord: `/sel forget about:` and `memory:`, `!forget about`, and "forget that ..."
in chat, with the real discord.py against the loopback stand-in and the real memory store."""

from __future__ import annotations

import asyncio

from sel.frontends.discord.forget_one import ForgetRequest, numbered, prefix_request
from sel.memory.records import Memory
from tests.discord_fixtures import mention, prefix, replies_in, slash, spy_on_engine
from tests.standin.state import MESSAGE_FLAG_EPHEMERAL

FACTS = ["My cat is called Tom", "My cat is grey", "I live in Lisbon"]


async def remembered(bot, person, facts=FACTS) -> None:
    store = bot.app.memory_store
    await asyncio.to_thread(store.set_consent, str(person.id), True)
    await asyncio.to_thread(store.add_many, str(person.id), facts)


async def texts(bot, person) -> list[str]:
    return sorted(m.text for m in await asyncio.to_thread(bot.app.memory_store.memories, str(person.id)))


def number_of(listing: str, text: str) -> str:
    """The number a listed memory has in SEL's answer ("2. My cat is called Tom")."""
    return next(line.split(".")[0] for line in listing.splitlines() if line.endswith(text))


async def test_slash_forget_lists_matches_privately_and_deletes_the_one_picked(sel_env, standin) -> None:
    bot = await sel_env()
    await remembered(bot, standin.bob)
    await remembered(bot, standin.alice, ["My cat is called Misty"])
    listing = await slash(standin, standin.bob, "forget", about="my cat")
    assert listing.flags & MESSAGE_FLAG_EPHEMERAL, "the list names the person's memories: only they may see it"
    assert "My cat is called Tom" in listing.content and "My cat is grey" in listing.content
    assert "Misty" not in listing.content, "another person's memory was offered"
    assert "Lisbon" not in listing.content, "only matching memories are offered"

    done = await slash(standin, standin.bob, "forget", memory=number_of(listing.content, "My cat is called Tom"))
    assert done.flags & MESSAGE_FLAG_EPHEMERAL and "My cat is called Tom" in done.content
    assert await texts(bot, standin.bob) == ["I live in Lisbon", "My cat is grey"]

    again = await slash(standin, standin.bob, "forget", memory=number_of(listing.content, "My cat is called Tom"))
    assert "no memory of yours" in again.content
    alices = (await asyncio.to_thread(bot.app.memory_store.memories, str(standin.alice.id)))[0].id
    refused = await slash(standin, standin.bob, "forget", memory=alices)
    assert "no memory of yours" in refused.content
    assert await texts(bot, standin.alice) == ["My cat is called Misty"], "another person's memory was deleted"
    assert "forget confirm" in (await slash(standin, standin.bob, "forget")).content, "the plain warning is unchanged"


async def test_prefix_forget_in_a_server_answers_by_dm(sel_env, standin) -> None:
    bot = await sel_env()
    await remembered(bot, standin.alice)
    assert await prefix(standin, standin.alice, "!forget about my cat") == "Sent you a DM."
    dm = standin.dm_channel(standin.alice)
    listing = standin.bot_messages(dm.id)[-1].content
    assert "My cat is called Tom" in listing and "My cat is grey" in listing
    pick = number_of(listing, "My cat is grey")
    assert await prefix(standin, standin.alice, f"!forget memory {pick}") == "Sent you a DM."
    assert "My cat is grey" in standin.bot_messages(dm.id)[-1].content
    assert await texts(bot, standin.alice) == ["I live in Lisbon", "My cat is called Tom"]
    in_channel = " ".join(m.content for m in standin.bot_messages(standin.general.id))
    assert "cat" not in in_channel, "a memory was shown in the server channel"
    assert "forgotten everything" in await prefix(standin, standin.alice, "!forget confirm"), "the full erase stays"
    assert await texts(bot, standin.alice) == []


async def test_forget_that_in_chat_deletes_the_matching_memory(sel_env, standin) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    await remembered(bot, standin.alice)
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"{mention(bot)} forget that my cat is Tom")
    await replies_in(standin, ch)
    assert await texts(bot, standin.alice) == ["I live in Lisbon", "My cat is grey"]
    assert "you deleted this from your memory" in spy.last(ch).plan.late_note, "the reply must know it was done"


def test_a_list_of_long_markdown_heavy_memories_fits_one_message() -> None:
    memories = [Memory(f"m{n}", "u", "*_" * 100, (), False, 0.0, 0.0, n) for n in range(10)]
    listing = numbered(memories, "!")
    assert len(listing) <= 2000, "Discord refuses a message over 2000 characters"
    assert listing.startswith("1. \\*\\_") and listing.endswith("/sel forget memory:NUMBER`).")


def test_prefix_words_say_what_forget_was_asked() -> None:
    assert prefix_request("forget") == ForgetRequest()
    assert prefix_request("forget confirm") == ForgetRequest(confirm=True)
    assert prefix_request("forget about my cat") == ForgetRequest(about="my cat")
    assert prefix_request("forget my cat") == ForgetRequest(about="my cat")
    assert prefix_request("forget memory 2") == ForgetRequest(memory="2")
