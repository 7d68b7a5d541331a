"""A model that reasons before it answers, on Discord: the real discord.py against the stand-in, and a scripted
tiny GGUF through the real llama.cpp that always writes ``<think>…</think>`` and then its answer.

Hidden by default; with SEL_SHOW_REASONING=spoiler the reasoning is its own message before the answer,
collapsed in a spoiler that a ``||`` inside cannot break, and the answer is posted exactly as it would be
without it (its length and splitting never count the reasoning).
"""

from __future__ import annotations

from pathlib import Path

from sel.frontends.discord.reasoning import ATTACHED, HEADER, is_reasoning_post, reasoning_post
from tests.discord_fixtures import mention, replies_in, spy_on_engine
from tests.gguf_scripted import write_scripted_llama

REASONING = "Plan || Not A Spoiler"  # a || that would close the spoiler early if it were not escaped
ANSWER = ["Hello", " there", " friend"]


def thinker(folder: Path, reasoning: list[str], answer: list[str]) -> dict[str, str]:
    """Settings that put the scripted model in both slots, sampled greedily so it follows its script."""
    path = write_scripted_llama(folder / "thinker.gguf", ["<think>", *reasoning, "</think>", "\n\n", *answer])
    return {"SEL_GENERAL_MODEL": str(path), "SEL_CODER_MODEL": str(path), "SEL_TEMPERATURE": "0"}


async def test_by_default_only_the_answer_is_posted(sel_env, standin, tmp_path) -> None:
    bot = await sel_env(**thinker(tmp_path, [REASONING], ANSWER))
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hi, how are you today?")
    await replies_in(standin, standin.general.id)
    await standin.idle(200)
    said = [m.content for m in standin.bot_messages(standin.general.id)]
    assert said == ["Hello there friend"], f"SEL posted more than its answer: {said}"


async def test_in_spoiler_mode_the_reasoning_comes_first_collapsed_and_the_answer_is_untouched(
    sel_env, standin, tmp_path
) -> None:
    bot = await sel_env(SEL_SHOW_REASONING="spoiler", **thinker(tmp_path, [REASONING], ANSWER))
    asked = await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hi, how are you today?")
    await replies_in(standin, standin.general.id, count=2)
    reasoning, answer = standin.bot_messages(standin.general.id)
    assert reasoning.content == f"{HEADER}\n||Plan \\|\\| Not A Spoiler||", "the || inside must be escaped"
    assert answer.content == "Hello there friend", "the reasoning must not leak into the answer"
    assert answer.reply_to == int(asked["id"]) and reasoning.id < answer.id

    # SEL's history holds its answer, not its reasoning: the next prompt shows only what it said.
    spy = spy_on_engine(bot)
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} and what are you up to?")
    await replies_in(standin, standin.general.id, count=4)
    texts = spy.last(standin.general.id).texts
    assert "Hello there friend" in texts, texts
    assert not [t for t in texts if "Plan" in t or "reasoning" in t], f"reasoning entered the prompt: {texts}"


async def test_reasoning_posts_read_back_from_the_channel_stay_out_of_the_prompt(sel_env, standin, tmp_path) -> None:
    # On first contact SEL reads the channel's recent messages, its own earlier reasoning posts among them.
    standin.add_earlier_message(standin.general.id, standin.world.bot, reasoning_post("the secret plan").content)
    standin.add_earlier_message(standin.general.id, standin.world.bot, "an earlier answer")
    bot = await sel_env(**thinker(tmp_path, [REASONING], ANSWER))
    spy = spy_on_engine(bot)
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hi, how are you today?")
    await replies_in(standin, standin.general.id, count=3)
    texts = spy.last(standin.general.id).texts
    assert "an earlier answer" in texts, texts
    assert not [t for t in texts if "secret plan" in t], f"an old reasoning post entered the prompt: {texts}"


async def test_the_answers_length_and_splitting_ignore_the_reasoning(sel_env, standin, tmp_path) -> None:
    # Escaped, the reasoning alone takes ~1700 characters; with the ~780-character answer it would pass
    # Discord's 2000 and split the answer in two, if it counted.
    reasoning = [f"{i:02d}" + "|" * 27 for i in range(30)]
    answer = [f" turtle{i:02d}teatrainmoonsun." for i in range(28)]
    env = thinker(tmp_path, reasoning, answer)
    bot = await sel_env(SEL_SHOW_REASONING="spoiler", SEL_MAX_NEW_TOKENS="200", SEL_MODE="deep_focus", **env)
    asked = await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} tell me about turtles")
    await replies_in(standin, standin.general.id, count=2, timeout=60)
    await standin.idle(200)
    posted = standin.bot_messages(standin.general.id)
    assert len(posted) == 2, f"expected the reasoning and one answer message, got {[m.content for m in posted]}"
    spoiler, reply = posted
    assert 1600 < len(spoiler.content) <= 2000 and spoiler.content.startswith(f"{HEADER}\n||")
    assert reply.content == "".join(answer).strip()
    assert reply.reply_to == int(asked["id"]), "the answer starts in a message of its own, not after the reasoning"


async def test_reasoning_too_long_for_a_message_is_attached_as_a_text_file(sel_env, standin, tmp_path) -> None:
    reasoning = [f"{i:02d}" + "|" * 27 for i in range(56)]  # escaped, over 3000 characters
    bot = await sel_env(SEL_SHOW_REASONING="spoiler", SEL_MAX_NEW_TOKENS="200", **thinker(tmp_path, reasoning, ANSWER))
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hi, how are you today?")
    await replies_in(standin, standin.general.id, count=2, timeout=60)
    attached, answer = standin.bot_messages(standin.general.id)
    assert attached.content == ATTACHED and [a.filename for a in attached.attachments] == ["reasoning.txt"]
    assert attached.attachments[0].data.decode() == "".join(reasoning) + "\n"
    assert answer.content == "Hello there friend"


def test_reasoning_too_long_for_a_message_goes_as_a_file() -> None:
    text = "step | " * 400
    post = reasoning_post(text)
    assert post.content == ATTACHED and post.file_text == text.strip() + "\n"
    assert is_reasoning_post(post.content, from_sel=True)
    short = reasoning_post("a plan")
    assert short.file_text is None and is_reasoning_post(short.content, from_sel=True)
    assert not is_reasoning_post(short.content, from_sel=False), "only SEL's own posts are reasoning posts"
