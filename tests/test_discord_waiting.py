"""While SEL answers in a channel, at most five people wait for it there: the real bot against
the stand-in, with its real engine held back (not replaced) so that SEL stays busy for as long
as the test needs, whatever the machine's speed."""

from __future__ import annotations

from tests.discord_fixtures import handled, mention, replies_in, spy_on_engine


async def test_at_most_five_people_wait_and_the_longest_waiting_are_taken_in_without_a_reply(sel_env, standin) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    ch = standin.general.id
    people = [standin.add_user(f"person{i}") for i in range(7)]
    for person in people:
        standin.add_member(standin.guild, person)

    spy.hold()
    first = await standin.send_message(ch, standin.alice, f"{mention(bot)} first question")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start answering the first question")
    asked = [await standin.send_message(ch, p, f"{mention(bot)} question from {p.username}") for p in people]
    await handled(standin, bot, *asked)
    assert len(bot.conversation.lanes.pending[ch]) == 5, (
        f"{len(bot.conversation.lanes.pending[ch])} people wait in the channel"
    )
    # The two who waited longest are taken in (SEL listens) without a reply.
    await standin.wait_for(lambda: bot.app.brain.silenced >= 2, 10, what="the two longest-waiting to be taken in")
    spy.release()

    await replies_in(standin, ch, 6, timeout=60)
    await standin.wait_for(
        lambda: not bot.conversation.lanes.running and not bot.conversation.lanes.pending, 30, what="SEL to finish"
    )
    answered = [m.reply_to for m in standin.bot_messages(ch) if m.reply_to is not None]
    expected = [int(first["id"])] + [int(m["id"]) for m in asked[2:]]
    names = {int(m["id"]): m["author"]["username"] for m in [first, *asked]}
    assert answered == expected, (
        "expected the first question, then the five newest waiting people in arrival order; "
        f"got {[names.get(i, i) for i in answered]}"
    )
    assert bot.app.brain.silenced == 2, "nobody else may be taken in without a reply"
