"""`sel chat` takes the owner's sel.toml edits while it runs, like the bot: the next message uses
the new persona and name; a bad edit is refused in one line and the last good settings stay.
Real llama.cpp on the tiny models; the terminal's Session driven one line at a time."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from sel.app import open_app
from sel.config import Settings
from sel.frontends.terminal import Session
from tests.discord_fixtures import EngineSpy

PIRATE = "Captain Aria is a pirate who speaks in nautical metaphors."
POET = "Aria is a poet who answers in rhyme."


class Lines(asyncio.Queue[str | Exception]):
    """The terminal's input queue, telling the test when the session waits for its next line."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    async def get(self) -> str | Exception:
        if self.empty():  # every typed line has been handled
            self.waiting.set()
        return await super().get()

    async def type(self, line: str) -> None:
        """Hand the session ``line`` and wait until it has been handled."""
        self.waiting.clear()
        self.put_nowait(line + "\n")
        await asyncio.wait_for(self.waiting.wait(), 120)


async def test_an_edit_reaches_the_next_message_and_a_bad_one_is_refused_once(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    path = settings.settings_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'persona = "{PIRATE}"\n', encoding="utf-8")
    app = await asyncio.to_thread(open_app, settings)
    spy = EngineSpy(app.engine)
    out = io.StringIO()
    lines = Lines()
    session = asyncio.create_task(Session(app, out, interactive=False, history_limit=8).run(lines))
    try:
        await lines.type("hello there")
        assert PIRATE in spy.last().plan.persona
        path.write_text(f'name = "Aria"\npersona = "{POET}"\n', encoding="utf-8")
        await lines.type("how are you today?")
        plan = spy.last().plan
        assert POET in plan.persona and PIRATE not in plan.persona, f"the edit must reach the next message: {plan}"
        assert plan.sel_name == "Aria"
        path.write_text(f'persona = "{PIRATE}"\nmode = "happyy"\n', encoding="utf-8")
        await lines.type("still a poet?")
        await lines.type("tell me more")
        assert POET in spy.last().plan.persona, "a bad edit keeps the last good settings"
        said = [line for line in out.getvalue().splitlines() if line.startswith("sel:")]
        assert len(said) == 1, f"one line for a refused edit, however many lines follow: {said}"
        assert said[0].startswith("sel: edit refused, the last good settings stay: sel.toml line 2: mode: 'happyy'")
        assert len(spy.generations) == 4, "a refused edit does not stop SEL answering"
        path.write_text(f'persona = "{PIRATE}"\n', encoding="utf-8")
        await lines.type("and now?")
        assert PIRATE in spy.last().plan.persona, "the fixed file is taken"
        assert out.getvalue().splitlines()[-2] == "sel: the settings file is fixed; its settings are in effect again"
    finally:
        lines.put_nowait("")
        await session
        await app.aclose()
