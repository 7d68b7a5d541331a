"""`/sel retry`, `/sel continue` and `/sel reset` end to end: the real discord.py against the stand-in,
real llama.cpp on tiny GGUFs (a random one for fresh sampling, a scripted one for known text)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sel.domain import PromptPlan, Turn
from sel.frontends.discord.conversation import BUSY, NOTHING_TO_CONTINUE, NOTHING_TO_RETRY
from sel.frontends.discord.history import ConversationLog, Entry
from sel.frontends.discord.resets import FILE_NAME, load_starts, save_starts
from sel.llm.prompt import ChatTemplateFormat, TranscriptFormat, chat_messages
from tests.discord_fixtures import handled, mention, prefix, replies_in, slash, spy_on_engine
from tests.gguf_fixtures import SIMPLE_CHAT_TEMPLATE
from tests.gguf_scripted import write_scripted_llama

# 40 pieces, one token each: a 16-token reply stops at its length limit, a 60-token one ends by itself.
SCRIPT = [f" w{i}q" for i in range(40)]


async def _settled(standin, bot) -> None:
    """Wait until SEL has no reply running or waiting, and Discord has seen its last edit."""
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 60, what="SEL's reply to finish")
    await standin.idle(150)


async def _command(standin, bot, author, text: str) -> None:
    """Send a prefix command and wait until SEL has handled it and whatever it started."""
    await handled(standin, bot, await standin.send_message(standin.general.id, author, text))
    await _settled(standin, bot)


# ---- retry --------------------------------------------------------------------------------------


async def test_retry_rewrites_your_last_reply_in_place_from_the_same_context(sel_env, standin) -> None:
    bot = await sel_env(SEL_MAX_NEW_TOKENS="24", SEL_TEMPERATURE="1.0")
    spy = spy_on_engine(bot)
    ch = standin.general.id
    await standin.send_message(ch, standin.bob, "the weather is lovely today")
    await standin.send_message(ch, standin.alice, f"{mention(bot)} tell me something about turtles")
    (first,) = await replies_in(standin, ch, 1)
    await _settled(standin, bot)
    old_text, original = standin.bot_messages(ch)[0].content, spy.last(ch)
    seen = bot.app.brain.styles.get(str(standin.alice.id)).messages

    await _command(standin, bot, standin.alice, "!retry")

    msgs = standin.bot_messages(ch)
    assert [m.id for m in msgs] == [first.id], "retry must edit the old reply, not post a second one"
    assert msgs[0].content != old_text, "the retried reply should be freshly sampled"
    assert len(spy.generations) == 2
    again = spy.last(ch)
    assert again.plan.turns == original.plan.turns, "retry must use the original prompt's context"
    assert old_text not in again.texts, "the old reply must not be part of its own retry's prompt"
    again_seen = bot.app.brain.styles.get(str(standin.alice.id)).messages
    assert again_seen == seen, "a retry must not feed the same message to SEL's style, mood and memory again"
    entry = bot.conversation.history.find(ch, first.id)
    assert entry is not None and entry.text == msgs[0].content, "SEL's history should hold the new text"


async def test_retry_is_per_person_and_says_when_there_is_nothing_to_retry(sel_env, standin) -> None:
    bot = await sel_env()
    ch = standin.general.id
    assert await prefix(standin, standin.bob, "!retry") == NOTHING_TO_RETRY
    await standin.send_message(ch, standin.alice, f"{mention(bot)} hi there")
    await replies_in(standin, ch, 2)  # the refusal above, and the reply to alice
    await _settled(standin, bot)
    assert (await slash(standin, standin.bob, "retry")).content == NOTHING_TO_RETRY, "bob was never answered"
    started = await slash(standin, standin.alice, "retry")
    assert "again" in started.content.lower()
    await _settled(standin, bot)
    replies = [m for m in standin.bot_messages(ch) if m.reply_to is not None and m.content != NOTHING_TO_RETRY]
    assert len(replies) == 1, f"one reply to alice, edited in place: {[m.content for m in replies]}"
    spy = spy_on_engine(bot)
    spy.hold()  # SEL is busy answering bob in the channel: a retry now would race that reply
    await standin.send_message(ch, standin.bob, f"{mention(bot)} and hello from me")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start answering bob")
    assert await prefix(standin, standin.alice, "!retry") == BUSY
    spy.release()
    await _settled(standin, bot)
    assert "forgotten" in await prefix(standin, standin.bob, "!forget confirm")
    assert await prefix(standin, standin.bob, "!retry") == NOTHING_TO_RETRY, "forget drops the replies kept to retry"
    assert "fresh" in (await slash(standin, standin.alice, "reset")).content
    assert (await slash(standin, standin.alice, "retry")).content == NOTHING_TO_RETRY, "a reset starts afresh"


# ---- continue -----------------------------------------------------------------------------------


async def test_continue_extends_a_reply_cut_at_its_length_limit(sel_env, standin, tmp_path: Path) -> None:
    model = write_scripted_llama(tmp_path / "script.gguf", SCRIPT)
    bot = await sel_env(SEL_GENERAL_MODEL=str(model), SEL_TEMPERATURE="0", SEL_MAX_NEW_TOKENS="16")
    spy = spy_on_engine(bot)
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"{mention(bot)} count for me please")
    await replies_in(standin, ch, 1)
    await _settled(standin, bot)
    (cut,) = standin.bot_messages(ch)
    cut_text = cut.content  # the stand-in's message object shows later edits too
    assert cut_text == "".join(SCRIPT[:16]).strip(), "the reply should stop at its 16-token limit"
    assert bot.app.last_stats.finish_reason == "length"

    await _command(standin, bot, standin.bob, "!continue")  # anyone may continue the channel's last reply

    (extended,) = standin.bot_messages(ch)
    asked = spy.last(ch)
    assert asked.plan.prefill.strip() == cut_text, "the model must continue from the reply's text"
    assert extended.id == cut.id and extended.content.startswith(cut_text)
    added = extended.content[len(cut_text) :]
    # The scripted model starts its script again after any ordinary token: its first piece keeps its space.
    assert added == "".join(SCRIPT[:16]), f"the continuation should be appended as written: {added!r}"


async def test_a_continuation_past_discords_limit_goes_on_in_a_new_message(sel_env, standin, tmp_path: Path) -> None:
    # 60 pieces of 25 characters (a token's text is at most 32 bytes) fit one message; twice as many do not.
    script = [f" p{i:02d}" + " and on" * 3 for i in range(62)]
    model = write_scripted_llama(tmp_path / "long.gguf", script)
    bot = await sel_env(SEL_GENERAL_MODEL=str(model), SEL_TEMPERATURE="0", SEL_MAX_NEW_TOKENS="60")
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"{mention(bot)} go on for a while")
    await replies_in(standin, ch, 1)
    await _settled(standin, bot)
    (first,) = standin.bot_messages(ch)
    first_text = first.content
    assert len(first_text) < 2000

    await _command(standin, bot, standin.alice, "!continue")

    msgs = standin.bot_messages(ch)
    assert len(msgs) == 2 and msgs[0].id == first.id, "past 2000 characters the reply goes on in a new message"
    assert all(len(m.content) <= 2000 for m in msgs)
    whole = "".join(script[:60]).strip() + "".join(script[:60])
    assert " ".join(m.content for m in msgs).split() == whole.split(), "nothing lost or repeated at the split"
    assert msgs[1].reply_to is None, "the continuation's new message is part of the same reply"


async def test_continue_after_a_complete_reply_says_there_is_nothing_to_continue(
    sel_env, standin, tmp_path: Path
) -> None:
    model = write_scripted_llama(tmp_path / "script.gguf", SCRIPT)
    bot = await sel_env(SEL_GENERAL_MODEL=str(model), SEL_TEMPERATURE="0", SEL_MAX_NEW_TOKENS="60")
    ch = standin.general.id
    assert await prefix(standin, standin.alice, "!continue") == NOTHING_TO_CONTINUE, "nothing said yet"
    await standin.send_message(ch, standin.alice, f"{mention(bot)} count for me please")
    await replies_in(standin, ch, 2)
    await _settled(standin, bot)
    assert standin.bot_messages(ch)[-1].content == "".join(SCRIPT).strip(), "the whole script, ended by the model"
    assert (await slash(standin, standin.bob, "continue")).content == NOTHING_TO_CONTINUE


# ---- reset --------------------------------------------------------------------------------------


async def test_reset_drops_earlier_turns_from_the_prompt_even_after_a_restart(sel_env, standin) -> None:
    bot = await sel_env()
    ch = standin.general.id
    alice = str(standin.alice.id)
    await bot.app.set_consent(alice, True)
    await asyncio.to_thread(bot.app.memory_store.add, alice, "I collect vintage maps", hard=True)
    await standin.send_message(ch, standin.bob, "my secret plan involves pancakes")
    await standin.send_message(ch, standin.alice, f"{mention(bot)} what do you think of it?")
    await replies_in(standin, ch, 1)
    await _settled(standin, bot)
    levels = dict(bot.app.brain.hormones.levels)

    answer = await prefix(standin, standin.alice, "!reset")
    assert "fresh" in answer and "remember" in answer
    assert dict(bot.app.brain.hormones.levels) == levels, "reset must leave the mood alone"
    spy = spy_on_engine(bot)
    await standin.send_message(ch, standin.alice, f"{mention(bot)} so, tell me about maps")
    await _settled(standin, bot)
    texts = spy.last(ch).texts
    assert texts == ["so, tell me about maps"], f"only the message after the reset should be in the prompt: {texts}"
    assert "vintage maps" in spy.last(ch).plan.late_note, "memories are untouched by reset"

    # A restart reads the channel's recent messages from Discord again: the reset must still hold.
    await bot.close()
    await bot.app.aclose()
    bot = await sel_env()
    spy = spy_on_engine(bot)
    await standin.send_message(ch, standin.alice, f"{mention(bot)} and what about pancakes")
    await _settled(standin, bot)
    texts = spy.last(ch).texts
    assert not [t for t in texts if "secret plan" in t], f"the reset was undone by the restart: {texts}"
    assert not [t for t in texts if "fresh" in t], "SEL's own answer to `reset` is not part of the new conversation"
    assert "so, tell me about maps" in texts, "what came after the reset stays in the conversation"


def test_reset_point_cuts_history_and_reply_chains_and_survives_a_damaged_file(tmp_path: Path) -> None:
    log = ConversationLog(limit=3)
    for i in range(1, 6):
        log.record(7, Entry(i, 100, "ana", f"message {i}", False))
    log.start_after(7, 4)
    entries, cut = log.before(7, 999)
    assert [e.text for e in entries] == ["message 5"] and not cut, "no 'earlier messages cut' note after a reset"
    assert [e.message_id for e in log.since_start(7, [Entry(2, 1, "x", "old", False)])] == []
    log.start_after(7, 2)
    assert log.starts[7] == 4, "an older reset never undoes a newer one"

    save_starts(tmp_path, {7: 4, 8: 9})
    assert load_starts(tmp_path) == {7: 4, 8: 9}
    (tmp_path / FILE_NAME).write_text("{not json", encoding="utf-8")
    assert load_starts(tmp_path) == {}, "a damaged file is ignored (and logged), not fatal"


# ---- continuation in the prompt ---------------------------------------------------------------


def test_a_prefill_opens_sels_turn_in_both_prompt_formats() -> None:
    plan = PromptPlan("persona", (Turn("ana", "count please"),), prefill="one two ")
    rendered = TranscriptFormat().render(plan)
    assert rendered.text.endswith("ana: count please\nSEL: one two"), rendered.text
    messages = chat_messages(plan)
    assert messages[-1] == {"role": "assistant", "content": "one two"}
    assert TranscriptFormat().render(PromptPlan("persona", plan.turns)).text.endswith("\nSEL:")
    templated = ChatTemplateFormat(SIMPLE_CHAT_TEMPLATE, "<s>", "</s>").render(plan).text
    assert templated.endswith("<|user|>\nana: count please<|end|>\n<|assistant|>\none two"), templated
