"""SEL's mention in the middle of a message reads as the name the owner gave it in sel.toml,
through the Discord stand-in and the real discord.py: in the message SEL answers and in the
history later prompts show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.discord_fixtures import mention, replies_in, spy_on_engine


def settings_file(tmp_path: Path, text: str) -> Path:
    """sel.toml where the sel_env fixture's SEL reads it (SEL_DATA_DIR/sel.toml)."""
    path = tmp_path / "data" / "sel.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_mention_mid_message_becomes_the_configured_name(sel_env: Any, standin: Any, tmp_path: Path) -> None:
    settings_file(tmp_path, 'name = "Aria"\n')
    bot = await sel_env()
    spy = spy_on_engine(bot)
    ch = standin.general.id
    await standin.send_message(ch, standin.alice, f"hey {mention(bot)} what's up")
    await replies_in(standin, ch, 1)
    texts = spy.last(ch).texts
    assert texts[-1] == "hey Aria what's up", f"the message SEL answers must name it Aria: {texts!r}"
    await standin.send_message(ch, standin.bob, f"{mention(bot)} and how are you?")
    await replies_in(standin, ch, 2)
    earlier = spy.last(ch).texts
    assert "hey Aria what's up" in earlier, f"the history must name SEL Aria too: {earlier!r}"
