"""The owner's sel.toml on a running SEL, through the Discord stand-in and the real discord.py:
live edits reach the next reply's prompt, bad edits are refused, per-channel overrides stay in
their channel, and `/sel persona`, `/sel mode` and `/sel reload`."""

from __future__ import annotations

import ctypes.util
import time
from pathlib import Path

import pytest

from sel.brain.modes import get_mode
from sel.owner_settings import parse_owner_settings
from tests.discord_fixtures import mention, prefix, replies_in, slash, spy_on_engine
from tests.gguf_scripted import write_scripted_llama

PIRATE = "Captain Aria is a pirate who speaks in nautical metaphors."


def settings_file(tmp_path: Path, text: str) -> Path:
    """sel.toml where the sel_env fixture's SEL reads it (SEL_DATA_DIR/sel.toml)."""
    path = tmp_path / "data" / "sel.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_an_edit_while_sel_runs_changes_the_next_replys_persona_and_name(sel_env, standin, tmp_path) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"{mention(bot)} hello there")
    await replies_in(standin, ch, 1)
    assert "SEL (Systematic Emotional Logic)" in spy.last(ch).plan.persona
    settings_file(tmp_path, f'name = "Aria"\npersona = "{PIRATE}"\n')
    await standin.wait_for(lambda: bot.app.owner_settings.name == "Aria", 15, what="SEL to notice the edit")
    await standin.send_message(ch, standin.bob, "hey aria, how is the sea today?")  # her name, no mention
    await replies_in(standin, ch, 2)
    plan = spy.last(ch).plan
    assert PIRATE in plan.persona, f"the next reply must use the new persona: {plan.persona!r}"
    assert "SEL (Systematic Emotional Logic)" not in plan.persona
    assert "Aria talks to whoever spoke to it" in plan.persona, "SEL's own rules stay after the persona"
    assert plan.sel_name == "Aria" and plan.late_note.startswith("Aria feels")


async def test_a_bad_edit_is_refused_and_the_last_good_settings_keep_working(sel_env, standin, tmp_path) -> None:
    path = settings_file(tmp_path, f'persona = "{PIRATE}"\n')
    bot = await sel_env()
    spy = spy_on_engine(bot)
    ch = standin.general.id
    path.write_text(f'persona = "{PIRATE} Ahoy."\nmode = "happyy"\n', encoding="utf-8")
    refused = "last edit refused"
    await standin.wait_for(lambda: refused in bot.app.settings_state, 15, what="SEL to refuse the bad edit")
    status = await prefix(standin, standin.bob, "!status")
    assert "settings: last edit refused: sel.toml line 2: mode: 'happyy' is not a mode" in status, status
    await standin.send_message(ch, standin.alice, f"{mention(bot)} still a pirate?")
    await replies_in(standin, ch, 2)  # the status, then the reply
    persona = spy.last(ch).plan.persona
    assert PIRATE in persona and "Ahoy." not in persona, f"the last good persona stays: {persona!r}"
    path.write_text(f'persona = "{PIRATE} Ahoy."\n', encoding="utf-8")
    await standin.wait_for(lambda: refused not in bot.app.settings_state, 15, what="the fixed file to be taken")
    assert f"settings: {path}" in await prefix(standin, standin.bob, "!status")


async def test_a_channels_mode_and_persona_stay_in_that_channel(sel_env, standin, tmp_path) -> None:
    guild, general, rand = standin.guild.id, standin.general.id, standin.random.id
    settings_file(
        tmp_path,
        f'[servers."{guild}".channels."{general}"]\npersona = "{PIRATE}"\nmode = "deep_focus"\n',
    )
    bot = await sel_env()
    spy = spy_on_engine(bot)
    for ch in (general, rand):
        await standin.send_message(ch, standin.alice, f"{mention(bot)} what should I read next?")
        await replies_in(standin, ch, 1)
    here, there = spy.last(general).plan.persona, spy.last(rand).plan.persona
    assert PIRATE in here and get_mode("deep_focus").instructions in here
    assert PIRATE not in there and get_mode("casual").instructions in there, f"another channel keeps SEL's: {there!r}"
    assert "deep_focus mode" in await prefix(standin, standin.alice, "!why", general)
    assert "casual mode" in await prefix(standin, standin.alice, "!why", rand)


async def test_persona_show_and_set_for_owners_and_moderators(sel_env, standin, tmp_path) -> None:
    path = settings_file(tmp_path, "# the owner's notes\n")
    bot = await sel_env()
    guild, ch = str(standin.guild.id), str(standin.general.id)
    assert "built-in personality" in await prefix(standin, standin.bob, "!persona")
    assert "only the bot owner" in (await prefix(standin, standin.bob, "!persona channel You are a cat.")).lower()
    assert "Persona set for this channel" in await prefix(standin, standin.alice, f"!persona channel {PIRATE}")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# the owner's notes") and parse_owner_settings(text).place(guild, ch).persona == PIRATE
    assert PIRATE in await prefix(standin, standin.bob, "!persona"), "everyone may see the persona"
    assert "from this channel" in (await slash(standin, standin.bob, "persona")).content
    # A moderator named in sel.toml may set it too, here for the whole server, by slash command.
    path.write_text(path.read_text(encoding="utf-8") + f"\n[access]\nmoderators = [{standin.bob.id}]\n")
    await standin.wait_for(lambda: bot.app.owner_settings.access, 15, what="SEL to read the moderators")
    answer = await slash(standin, standin.bob, "persona", scope="server", text="A calm librarian.")
    assert "Persona set for this server" in answer.content, answer.content
    rules = parse_owner_settings(path.read_text(encoding="utf-8"))
    assert rules.place(guild, "999").persona == "A calm librarian." and rules.place(guild, ch).persona == PIRATE
    assert "Persona removed for this channel" in await prefix(standin, standin.alice, "!persona channel reset")
    assert "A calm librarian." in await prefix(standin, standin.bob, "!persona")


async def test_mode_is_set_per_channel(sel_env, standin, tmp_path) -> None:
    bot = await sel_env()
    guild, general, rand = str(standin.guild.id), str(standin.general.id), str(standin.random.id)
    assert "playful" in await prefix(standin, standin.alice, "!mode playful")
    assert bot.app.place(guild, general).mode == "playful"
    assert bot.app.place(guild, rand).mode is None and bot.app.brain.mode.name == "casual", "other channels keep theirs"
    saved = parse_owner_settings((tmp_path / "data" / "sel.toml").read_text(encoding="utf-8"))
    assert saved.place(guild, general).mode == "playful", "kept in sel.toml across restarts"


async def test_reload_reads_the_file_now_and_says_what_was_refused(sel_env, standin, tmp_path) -> None:
    bot = await sel_env()
    path = settings_file(tmp_path, "[servers.lab]\n")
    answer = await prefix(standin, standin.alice, "!reload")
    assert answer.startswith("sel.toml was refused, the last good settings stay: sel.toml line 1: servers.lab"), answer
    path.write_text('name = "Bea"\n', encoding="utf-8")
    assert await prefix(standin, standin.alice, "!reload") == "Settings reloaded from sel.toml."
    assert bot.app.owner_settings.name == "Bea"
    assert "only the bot owner" in (await prefix(standin, standin.bob, "!reload")).lower()


async def test_check_ins_follow_the_channels_setting_in_sel_toml(sel_env, standin, tmp_path) -> None:
    guild, general, rand = standin.guild.id, standin.general.id, standin.random.id
    settings_file(tmp_path, f'[servers."{guild}".channels."{general}"]\ncheckins = true\n')  # SEL_CHECKINS stays 0
    now = [time.time()]
    model = write_scripted_llama(tmp_path / "script.gguf", ["Still", " around?"])
    standin.clock = lambda: now[0]  # messages are written at SEL's time, so they are not stale after a lull
    bot = await sel_env(SEL_GENERAL_MODEL=str(model), SEL_TEMPERATURE="0", clock=lambda: now[0])
    for ch in (general, rand):
        await standin.send_message(ch, standin.alice, f"{mention(bot)} good morning!")
        await replies_in(standin, ch, 1)
        await standin.wait_for(lambda: not bot.conversation.lanes.running, 30, what="the reply to finish")
    now[0] += 7 * 3600
    await bot.conversation.tick()
    assert [m.content for m in standin.bot_messages(general)][1:] == ["Still around?"], "checkins = true here"
    assert len(standin.bot_messages(rand)) == 1, "no check-in where the file leaves SEL_CHECKINS=0 in effect"


@pytest.mark.slow
@pytest.mark.skipif(
    ctypes.util.find_library("opus") is None, reason="libopus is not installed (apt-get install libopus0)"
)
async def test_spoken_replies_follow_the_channels_setting_in_sel_toml(
    sel_env, standin, tmp_path, bundled_models_dir
) -> None:
    guild, general = standin.guild.id, standin.general.id
    settings_file(tmp_path, f'[servers."{guild}".channels."{general}"]\nspoken_replies = true\n')  # SEL_TTS_DEFAULT=0
    voice = {
        "PIPER_MODEL": str(bundled_models_dir / "en_US-joe-medium.onnx"),
        "SEL_EMBED_MODEL": str(bundled_models_dir / "all-MiniLM-L6-v2-int8"),
    }
    bot = await sel_env(**voice)
    await standin.join_voice(standin.alice, standin.lounge)
    assert "joined lounge" in (await prefix(standin, standin.alice, "!join")).lower()

    def spoken() -> int:
        return sum(len(s.audio_frames) for s in standin.voice.streams.values() if s.user_id == bot.user.id)

    await standin.send_message(general, standin.alice, f"{mention(bot)} say something nice")
    await replies_in(standin, general, 2, timeout=30)
    await standin.wait_for(lambda: spoken() > 0, 30, what="the reply to be spoken (spoken_replies = true here)")
