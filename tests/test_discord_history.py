"""On first contact with a channel SEL reads its recent history (SEL_HISTORY_LIMIT messages):
the real bot against the stand-in, checked in the prompt SEL gives its real model."""

from __future__ import annotations

from sel.domain import CUT_NOTE
from tests.discord_fixtures import mention, replies_in, spy_on_engine


async def test_first_contact_reads_the_channels_last_messages_up_to_the_history_limit(sel_env, standin) -> None:
    ch = standin.general.id
    for i in range(8):
        standin.add_earlier_message(ch, standin.bob if i % 2 else standin.alice, f"earlier message {i}")
    bot = await sel_env(SEL_HISTORY_LIMIT="4")
    spy = spy_on_engine(bot)

    asked = await standin.send_message(ch, standin.alice, f"{mention(bot)} what were we talking about?")
    (reply,) = await replies_in(standin, ch)
    assert reply.reply_to == int(asked["id"])

    # The conversation keeps the channel's last 4 messages, the one SEL answers included; a note
    # tells the model that earlier ones are not shown.
    texts = spy.last(ch).texts
    assert texts == [CUT_NOTE, "earlier message 5", "earlier message 6", "earlier message 7", asked_text(asked)], texts
    speakers = [t.speaker for t in spy.last(ch).plan.turns[1:4]]
    assert speakers == [display_name(u) for u in (standin.bob, standin.alice, standin.bob)], speakers
    (read,) = standin.requests_to("GET", f"/channels/{ch}/messages")
    assert read.query.get("limit") == "4", f"SEL read more of the channel than it keeps: {read.query}"


def asked_text(payload: dict) -> str:
    return payload["content"].split(">", 1)[1].strip()  # SEL's leading mention only addresses it


def display_name(user) -> str:
    return user.global_name or user.username
