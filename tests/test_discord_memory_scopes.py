"""End to end through the Discord stand-in: a memory comes back only where it may (scopes), with the real
store and the real tiny model; what SEL recalled is read from the prompt the engine was given."""

from __future__ import annotations

from typing import Any

from tests.discord_fixtures import mention, prefix, replies_in, slash, spy_on_engine


async def ask(standin: Any, bot: Any, channel_id: int, text: str, *, author: Any = None) -> None:
    """Alice (or ``author``) says ``text`` in the channel (mentioning SEL outside DMs); wait for SEL's reply."""
    before = len(standin.bot_messages(channel_id))
    in_dm = channel_id == standin.dm_channel(standin.alice).id
    await standin.send_message(channel_id, author or standin.alice, text if in_dm else f"{mention(bot)} {text}")
    await replies_in(standin, channel_id, before + 1, timeout=60)


def remembered(spy: Any, channel_id: int) -> str:
    """The late note of the last prompt SEL wrote in the channel: where recalled memories (and only they,
    of what the person said before) go."""
    return spy.last(channel_id).plan.late_note


async def test_memories_come_back_only_where_they_may(sel_env: Any, standin: Any) -> None:
    other = standin.add_guild("Other Place", owner=standin.alice)
    lobby = standin.add_text_channel(other, "lobby").id
    bot = await sel_env(SEL_MAX_NEW_TOKENS="8")
    spy = spy_on_engine(bot)
    dm, general = standin.dm_channel(standin.alice).id, standin.general.id
    assert "remember" in (await prefix(standin, standin.alice, "!remember on", channel=dm)).lower()

    await ask(standin, bot, dm, "My favourite band is Radiohead")
    await ask(standin, bot, general, "what is my favourite band these days?")
    assert "Radiohead" not in remembered(spy, general), "a fact told in a DM reached a server reply"
    await ask(standin, bot, dm, "what is my favourite band these days?")
    assert "Radiohead" in remembered(spy, dm), "in the DM the fact must come back (else the test proves nothing)"

    await ask(standin, bot, general, "My dog is called Biscuit")
    await ask(standin, bot, lobby, "what is my dog called these days?")
    assert "Biscuit" not in remembered(spy, lobby), "a fact told in one server surfaced in another"
    await ask(standin, bot, dm, "what is my dog called these days?")
    assert "Biscuit" in remembered(spy, dm), "a server's fact comes back in DMs with the same person"

    await ask(standin, bot, general, "My cat is called Miso")
    await ask(standin, bot, general, "you can mention this anywhere")
    await ask(standin, bot, lobby, "what is my cat called these days?")
    assert "Miso" in remembered(spy, lobby), "widened: the fact may come back in the other server"


async def test_remember_scope_sets_where_future_memories_come_back(sel_env: Any, standin: Any) -> None:
    bot = await sel_env(SEL_MAX_NEW_TOKENS="8")
    spy = spy_on_engine(bot)
    dm, general = standin.dm_channel(standin.alice).id, standin.general.id
    assert "nothing to scope" in (await slash(standin, standin.alice, "remember", scope="dm")).content
    answer = (await slash(standin, standin.alice, "remember", setting="on", scope="dm")).content
    assert "only in our DMs" in answer, answer
    await ask(standin, bot, general, "My hamster is called Pip")
    await ask(standin, bot, general, "what is my hamster called these days?")
    assert "Pip" not in remembered(spy, general), "`remember dm`: a server fact must stay in DMs"
    await ask(standin, bot, dm, "what is my hamster called these days?")
    assert "Pip" in remembered(spy, dm)
    assert "anywhere" in await prefix(standin, standin.alice, "!remember anywhere")
    await ask(standin, bot, general, "My parrot is called Kiwi")
    await ask(standin, bot, general, "what is my parrot called these days?")
    assert "Kiwi" in remembered(spy, general)


async def test_only_the_authors_own_turns_become_episodes(sel_env: Any, standin: Any) -> None:
    bot = await sel_env(SEL_MAX_NEW_TOKENS="8")
    spy = spy_on_engine(bot)
    general = standin.general.id
    assert "remember" in (await prefix(standin, standin.alice, "!remember on")).lower()
    await ask(standin, bot, general, "Our trip is booked: we fly to Kyoto on the third with Ana.")
    await ask(standin, bot, general, "Bob here, the surprise party for Alice is at the boathouse.", author=standin.bob)
    await ask(standin, bot, general, "what did I tell you about my trip?")
    note = remembered(spy, general)
    assert "Kyoto" in note, f"the turn about the trip should be recalled: {note!r}"
    assert "boathouse" not in note, "another person's turn must never be kept as an episode"
    store = bot.app.memory_store
    kept = [m for m in store.user_records(str(standin.alice.id)).memories if m.kind == "episode"]
    assert kept and all("boathouse" not in m.text for m in kept)
    assert store.user_records(str(standin.bob.id)).memories == (), "Bob never opted in: nothing of his is kept"
