"""sel.toml: validation with the key and the line, per-place precedence, edits that keep comments,
live reload that refuses bad edits, character cards, and `sel config --server/--channel`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sel.character_card import BUDGET, character_of, read_card
from sel.config import RemoteSlot, Settings, load_settings
from sel.domain import IncomingMessage, PromptPlan, Sampling, Turn
from sel.errors import InputError
from sel.frontends.discord.access import allowed
from sel.llm.openai_api import build_request
from sel.owner_file import OwnerFile, edited_toml
from sel.owner_settings import OwnerSettings, parse_owner_settings
from sel.owner_toml import SettingsFileError
from tests.cli_runner import run_sel
from tests.test_brain_facade import ScriptedEngine, ScriptedMemory, make_brain, say

GOOD = """\
# SEL's settings
name = "Aria"   # who SEL is
persona = "Aria is a calm librarian."
checkins = true

[modes.playful]
temperature = 1.2

[access]
moderators = [42]
blocked_users = [7]

[servers."100"]
mode = "playful"
persona = '''
A pirate on this server.
'''
allowed_channels = [200, 201]

[servers."100".channels."200"]
mode = "deep_focus"
memory = false
reply_threshold = 90
"""


def refusal(text: str) -> str:
    with pytest.raises(SettingsFileError) as caught:
        parse_owner_settings(text)
    return str(caught.value)


def test_a_good_file_resolves_channel_over_server_over_top() -> None:
    rules = parse_owner_settings(GOOD)
    assert rules.name == "Aria"
    channel = rules.place("100", "200")
    assert (channel.mode, channel.memory, channel.reply_threshold) == ("deep_focus", False, 90)
    assert channel.persona == "A pirate on this server.", "the channel inherits its server's persona"
    assert channel.checkins is True, "and the file's top-level values"
    other = rules.place("100", "999")
    assert (other.mode, other.memory, other.allowed_channels) == ("playful", None, frozenset({200, 201}))
    elsewhere = rules.place("555", "1")
    assert (elsewhere.persona, elsewhere.mode) == ("Aria is a calm librarian.", None)
    assert rules.sampling("playful").temperature == 1.2 and rules.sampling("casual").temperature is None
    assert rules.ids("blocked_users", frozenset({1})) == {7}, "a list in the file replaces .env's"
    assert rules.ids("allowed_users", frozenset({3})) == {3}, "a list the file leaves out keeps .env's"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'name = "A"\n\n[servers."123"]\nmode = "happyy"\n',
            "sel.toml line 4: servers.\"123\".mode: 'happyy' is not a mode",
        ),
        ('colour = "red"\n', "sel.toml line 1: colour: unknown setting"),
        ("[modes.casual]\ntop_p = 3\n", "sel.toml line 2: modes.casual.top_p: 3 is out of range"),
        (
            '[servers."1".channels."2"]\nmemory = "no"\n',
            'sel.toml line 2: servers."1".channels."2".memory: \'no\' is not true or false',
        ),
        ("[servers.general]\n", "sel.toml line 1: servers.general: 'general' is not a server id"),
        ('[access]\nowners = ["123"]\n', "sel.toml line 2: access.owners: '123' is not a Discord id"),
        ("reply_threshold = 101\n", "sel.toml line 1: reply_threshold: 101 is not a reply threshold"),
        ("[modes.grumpy]\ntemperature = 1\n", "sel.toml line 1: modes.grumpy: 'grumpy' is not a mode"),
    ],
)
def test_a_bad_value_names_the_line_and_the_key(text: str, expected: str) -> None:
    assert refusal(text).startswith(expected)


def test_lines_inside_a_multiline_persona_are_not_keys() -> None:
    text = 'persona = """\nmode = "this is prose"\n"""\n[servers."5"]\nmode = "nope"\n'
    assert refusal(text).startswith('sel.toml line 5: servers."5".mode')


def test_a_syntax_error_is_one_line_with_line_and_column() -> None:
    message = refusal('name = "Aria"\nmode = \n')
    assert message.startswith("sel.toml line 2, column 8: ") and message.endswith("fix the TOML syntax")
    assert "\n" not in message


def test_an_edit_keeps_the_owners_comments_and_other_keys(tmp_path: Path) -> None:
    file = OwnerFile(tmp_path / "sel.toml")
    file.path.write_text(GOOD, encoding="utf-8")
    file.load()
    file.edit(("servers", "100", "channels", "300", "persona"), "Line one.\nLine two.")
    text = file.path.read_text(encoding="utf-8")
    assert "# SEL's settings" in text and "# who SEL is" in text
    assert parse_owner_settings(text).place("100", "300").persona == "Line one.\nLine two."
    assert file.current.place("100", "300").persona == "Line one.\nLine two.", "the edit is in effect at once"
    file.edit(("servers", "100", "channels", "300", "persona"), None)
    assert parse_owner_settings(file.path.read_text(encoding="utf-8")).place("100", "300").persona == (
        "A pirate on this server."
    ), "removing the channel's persona falls back to the server's"


def test_an_edit_that_would_make_the_file_invalid_writes_nothing(tmp_path: Path) -> None:
    file = OwnerFile(tmp_path / "sel.toml")
    file.path.write_text(GOOD, encoding="utf-8")
    with pytest.raises(SettingsFileError, match="is not a mode"):
        file.edit(("servers", "100", "mode"), "grumpy")
    assert file.path.read_text(encoding="utf-8") == GOOD


def test_top_level_keys_go_above_the_tables() -> None:
    edited = edited_toml('[servers."1"]\nmode = "playful"\n', ("persona",), "Top.")
    assert parse_owner_settings(edited).top.persona == "Top."
    assert parse_owner_settings(edited).place("1", "").mode == "playful"


def test_reload_refuses_a_bad_edit_and_keeps_the_last_good_settings(tmp_path: Path) -> None:
    file = OwnerFile(tmp_path / "sel.toml")
    assert file.load() == OwnerSettings(), "no file: SEL's defaults"
    file.path.write_text('name = "Aria"\n', encoding="utf-8")
    assert file.changed() and file.reload() is None and file.current.name == "Aria"
    assert not file.changed()
    file.path.write_text('name = "Aria"\nmode = "happyy"\n', encoding="utf-8")
    refused = file.reload()
    assert refused is not None and refused.startswith("sel.toml line 2: mode:")
    assert file.current.name == "Aria" and file.refused == refused
    file.path.write_text('name = "Aria"\nmode = \n', encoding="utf-8")  # an edit still being typed
    with pytest.raises(SettingsFileError, match="line 2, column 8"):  # SEL does not write over it
        file.edit(("persona",), "x")
    assert file.path.read_text(encoding="utf-8") == 'name = "Aria"\nmode = \n'
    file.path.write_text('name = "Bea"\n', encoding="utf-8")
    assert file.reload() is None and file.current.name == "Bea" and file.refused is None


def test_a_bad_file_at_start_stops_with_one_line(tmp_path: Path) -> None:
    file = OwnerFile(tmp_path / "sel.toml")
    file.path.write_text("[access]\nowners = 5\n", encoding="utf-8")
    with pytest.raises(SettingsFileError, match=r"^sel.toml line 2: access.owners: 5 is not a list"):
        file.load()


# ---- character cards -------------------------------------------------------------------------------

V2_CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Captain Mira",
        "description": "{{char}} is a pirate captain. " + "She loves the sea. " * 200,
        "personality": "bold, loyal",
        "scenario": "{{user}} has just boarded {{char}}'s ship.",
        "first_mes": "Ahoy, {{user}}!",
        "mes_example": "<START>\n{{user}}: who are you?\n{{char}}: The captain, of course!\n<START>\n"
        + "{{user}}: and now?\n{{char}}: Now we sail.\n" * 40,
    },
}


def test_a_v2_card_becomes_a_bounded_persona_with_its_name() -> None:
    character = character_of(V2_CARD, "mira.json")
    assert character.name == "Captain Mira"
    persona = character.persona
    assert len(persona) <= BUDGET, "the card is trimmed to the budget"
    assert persona.startswith("Captain Mira: Captain Mira is a pirate captain.")
    assert "Personality: bold, loyal" in persona and "the user has just boarded Captain Mira's ship" in persona
    assert "User: who are you?\nCaptain Mira: The captain, of course!" in persona
    assert "{{" not in persona and "<START>" not in persona
    assert "…" in persona, "the long description was cut, and says so"


def test_a_card_long_in_every_field_still_fits_the_budget() -> None:
    long = "word " * 2000
    card = {key: long for key in ("description", "personality", "scenario", "first_mes", "mes_example")}
    persona = character_of({**card, "name": "Long"}, "long.json").persona
    assert len(persona) <= BUDGET and persona.endswith("…")


def test_a_v1_card_reads_the_same_fields(tmp_path: Path) -> None:
    card = tmp_path / "v1.json"
    card.write_text(json.dumps({"name": "Tom", "description": "A gardener.", "personality": "patient"}))
    character = read_card(card.read_bytes(), card.name)
    assert character.name == "Tom" and character.persona == "Tom: A gardener.\nPersonality: patient"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"not json", "card.json: not JSON"),
        (b"[1, 2]", "card.json: not a character card"),
        (b'{"name": "X"}', "card.json: the card has no description or personality"),
        (b'{"name": "A: B", "description": "x"}', "card.json: name 'A: B' must be"),
        (b'{"name": "X", "description": 5}', "card.json: field 'description' is not text"),
        (b"\x89PNG\r\n\x1a\n....", "card.json: a PNG card"),
    ],
)
def test_a_bad_card_is_one_line(raw: bytes, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        read_card(raw, "card.json")
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


# ---- the CLI -------------------------------------------------------------------------------------


def test_persona_import_and_config_for_a_place(tmp_path: Path) -> None:
    card = tmp_path / "mira.json"
    card.write_text(json.dumps(V2_CARD), encoding="utf-8")
    env = {"SEL_DATA_DIR": str(tmp_path / "data")}
    result = run_sel("persona", "import", str(card), "--server", "100", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported Captain Mira" in result.stdout
    shown = run_sel("config", "--json", "--server", "100", "--channel", "5", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["persona"].startswith("Captain Mira: Captain Mira is a pirate captain.")
    assert data["name"] == "SEL", "a card imported for one server leaves SEL's name alone"
    elsewhere = json.loads(run_sel("config", "--json", "--server", "999", env=env, cwd=tmp_path).stdout)
    assert elsewhere["persona"] == "(SEL's built-in persona)" and elsewhere["reply_threshold"] == 50
    bad = run_sel("persona", "import", str(tmp_path / "missing.json"), env=env, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("file not found; give the path of the card's JSON file")


# ---- where the settings act: the brain, the access rules, the request a model server gets -----------


@pytest.fixture
def brain_settings(tmp_path: Path) -> Settings:
    return load_settings({"SEL_DATA_DIR": str(tmp_path / "data"), "SEL_MAX_NEW_TOKENS": "100"})


def in_guild(channel: str, text: str, *, mentioned: bool = True) -> IncomingMessage:
    return IncomingMessage("1", "ana", channel, text, mentioned=mentioned, guild_id="9")


async def test_memory_off_in_a_channel_neither_stores_nor_recalls_there(brain_settings: Settings) -> None:
    memory = ScriptedMemory(consent={"1"}, facts={"1": ["my cat's name is Miso"]})
    brain = make_brain(brain_settings, ScriptedEngine(), memory)
    brain.owner = parse_owner_settings('[servers."9".channels."31"]\nmemory = false\n')
    await say(brain, in_guild("31", "my dog's name is Rex, and what is my cat's name?"))
    assert memory.facts["1"] == ["my cat's name is Miso"] and memory.recalls == [], "memory is off in that channel"
    await say(brain, in_guild("32", "my dog's name is Rex, and what is my cat's name?"))
    assert memory.recalls == ["1"] and len(memory.facts["1"]) == 2, "and on in the others"


async def test_a_places_threshold_and_a_modes_sampling_reach_the_brain(brain_settings: Settings) -> None:
    engine = ScriptedEngine()
    brain = make_brain(brain_settings, engine)
    brain.owner = parse_owner_settings('[modes.playful]\ntemperature = 1.5\n\n[servers."9"]\nreply_threshold = 0\n')
    assert brain.decide(in_guild("any", "nice weather today", mentioned=False)).silent is False
    assert brain.decide(IncomingMessage("1", "ana", "dm-less", "nice weather today", guild_id="8")).silent
    brain.owner = parse_owner_settings('[modes.playful]\ntemperature = 1.5\n\n[servers."9"]\nmode = "playful"\n')
    await say(brain, in_guild("any", "hello"))
    assert engine.calls[-1].plan.sampling == Sampling(temperature=1.5)
    await say(brain, IncomingMessage("1", "ana", "elsewhere", "hello", mentioned=True, guild_id="8"))
    assert engine.calls[-1].plan.sampling == Sampling(), "casual has no sampling of its own: .env's applies"


def test_a_model_server_gets_the_modes_sampling(brain_settings: Settings) -> None:
    remote = RemoteSlot("general", "http://127.0.0.1:9/v1", "m", None)
    plan = PromptPlan("persona", (Turn("ana", "hi"),), sampling=Sampling(temperature=1.5, repeat_penalty=1.3))
    request = build_request(remote, plan, brain_settings.llm, api="chat", max_tokens=8, llama_cpp=True)
    body = json.loads(request.body)
    assert (body["temperature"], body["top_p"], body["repeat_penalty"]) == (1.5, brain_settings.top_p, 1.3)


@dataclass
class Someone:
    id: int
    roles: tuple[Any, ...] = ()


@dataclass
class Asked:
    author: Someone
    channel: Someone
    guild: Someone | None


def test_the_files_access_lists_replace_envs_and_a_server_can_narrow_its_channels() -> None:
    env = load_settings({"SEL_BLOCKED_USERS": "5"}).discord
    rules = parse_owner_settings(
        '[access]\nblocked_users = [6, 8]\nmoderators = [8]\n\n[servers."9"]\nallowed_channels = [100]\n'
    )
    guild = Someone(9)
    assert allowed(env, Asked(Someone(5), Someone(100), guild), rules=rules), "the file's blocked list replaced .env's"
    assert not allowed(env, Asked(Someone(6), Someone(100), guild), rules=rules)
    assert allowed(env, Asked(Someone(8), Someone(100), guild), rules=rules), (
        "a moderator passes the user lists, even blocked"
    )
    assert not allowed(env, Asked(Someone(7), Someone(101), guild), rules=rules), "the server talks in 100 only"
    assert allowed(env, Asked(Someone(7), Someone(101), Someone(10)), rules=rules), "other servers are not narrowed"
    assert not allowed(env, Asked(Someone(5), Someone(100), guild)), "without the file, .env's lists apply"


def test_sel_does_not_start_on_a_bad_settings_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "sel.toml").write_text('name = "Aria"\nmode = "happyy"\n', encoding="utf-8")
    result = run_sel("chat", env={"SEL_DATA_DIR": str(data)}, cwd=tmp_path, stdin="hello\n")
    assert result.returncode == 2, result.stdout
    assert result.stderr.strip() == (
        "sel: error: sel.toml line 2: mode: 'happyy' is not a mode; "
        "use one of casual, deep_focus, playful, quiet_companion"
    )


def test_the_readme_example_is_a_valid_settings_file() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### The owner's settings file") :]
    example = section[section.index("```toml") + len("```toml") : section.index("```\n", section.index("```toml"))]
    rules = parse_owner_settings(example)
    assert rules.name == "Aria" and rules.place("345678901234567890", "456789012345678901").memory is False
