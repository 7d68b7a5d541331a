"""Start-up on Discord: the general model is loaded and warm before SEL says it is ready, SEL
says so in one line exactly once, and a model that cannot load stops it before it connects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from sel.app import open_app
from sel.errors import ModelError
from sel.frontends.discord import serve
from sel.frontends.discord.voice_support import voice_state, voice_support
from tests.standin.gateway import GatewayFrame

READY = "SEL is ready as "


class Watcher(logging.Handler):
    """Keeps SEL's log lines; for the ready line, also which models were loaded at that moment."""

    def __init__(self, engine: object | None = None) -> None:
        super().__init__(logging.INFO)
        self.engine = engine
        self.lines: list[str] = []
        self.loaded_at_ready: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        self.lines.append(line)
        if line.startswith(READY) and self.engine is not None:
            self.loaded_at_ready.append(self.engine.status()["loaded"])  # type: ignore[attr-defined]

    def count(self, start: str) -> int:
        return sum(line.startswith(start) for line in self.lines)


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[Watcher]:
    logger = logging.getLogger("sel")
    level = logger.level
    logger.addHandler(watcher)
    logger.setLevel(logging.INFO)
    try:
        yield watcher
    finally:
        logger.removeHandler(watcher)
        logger.setLevel(level)


def readies(frames: list[GatewayFrame]) -> int:
    return sum(1 for f in frames if f.t == "READY")


async def test_sel_says_it_is_ready_once_with_the_model_warm(standin, make_settings, tiny_models, capsys) -> None:
    standin.add_guild("Second Lab", owner=standin.bob)
    settings = make_settings(DISCORD_TOKEN=standin.token)
    app = await asyncio.to_thread(open_app, settings)
    with watching(Watcher(app.engine)) as watcher:
        task = asyncio.create_task(serve(settings, app=app, **standin.client_options()))
        try:
            await standin.wait_for(lambda: watcher.loaded_at_ready or task.done(), 60, what="the ready line")
            assert not task.done(), f"serve() stopped: {task.exception()!r}"
            await standin.drop_gateway(resumable=False)  # identifies again: Discord sends READY again
            await standin.wait_for(lambda: watcher.count("connected to Discord") == 2, 20, what="the reconnect")
            await standin.send_message(standin.general.id, standin.alice, f"<@{standin.world.bot.id}> hi!")
            await standin.wait_for(lambda: app.last_stats, 30, what="the first reply")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(READY)]
    assert len(lines) == 1, f"the ready line must be printed exactly once, also across a reconnect:\n{out}"
    voice = voice_state(voice_support())
    assert lines[0] == (
        f"SEL is ready as SEL in 2 servers · general: {tiny_models.general.name} · "
        f"coder: {tiny_models.coder.name} · memory: on · voice: {voice}"
    )
    assert watcher.count(READY) == 1, "the ready line must be logged once too"
    assert watcher.loaded_at_ready == [[str(tiny_models.general)]], "the general model must be loaded before 'ready'"
    assert readies(standin.gateway_log) == 2
    assert app.last_stats.load_seconds == 0.0, "the first reply paid for loading the model"


def test_voice_state_names_what_is_missing() -> None:
    from sel.frontends.discord.voice_support import FIX_OPUS, FIX_PYNACL

    assert voice_state([]) == "on"
    assert voice_state([FIX_OPUS]) == "off (libopus missing)"
    assert voice_state([FIX_PYNACL, FIX_OPUS + "; libopus.so.0 did not load"]) == "off (PyNaCl, libopus missing)"


def broken_model(tmp_path: Path) -> Path:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)  # passes the header check; llama.cpp cannot load it
    return broken


async def test_a_model_that_cannot_load_stops_sel_before_it_connects(standin, make_settings, tmp_path, capsys):
    broken = broken_model(tmp_path)
    settings = make_settings(DISCORD_TOKEN=standin.token, SEL_GENERAL_MODEL=str(broken))
    options = standin.client_options()
    task = asyncio.create_task(serve(settings, **options))
    try:
        await standin.wait_for(lambda: task.done() or standin.requests, 60, what="serve() to stop or connect")
        assert standin.requests == [] and standin.gateway_log == [], "SEL went online with a model it cannot load"
        with pytest.raises(ModelError, match=r"SEL_GENERAL_MODEL=.*llama\.cpp could not load it") as info:
            await task
    finally:
        if not task.done():  # it went online: stop it
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await options["connector"].close()
    assert "\n" not in str(info.value)
    assert READY not in capsys.readouterr().out


def test_sel_discord_reports_a_model_that_cannot_load_in_one_line(tmp_path, tiny_models) -> None:
    from tests.cli_runner import run_sel

    broken = broken_model(tmp_path)
    env = {
        "DISCORD_TOKEN": "a-token-that-is-never-sent",
        "SEL_GENERAL_MODEL": str(broken),
        "SEL_CODER_MODEL": str(tiny_models.coder),
        "SEL_DATA_DIR": str(tmp_path / "data"),
    }
    result = run_sel("discord", env=env, cwd=tmp_path, timeout=120)  # were it to go online instead, it would hang
    assert result.returncode != 0
    assert READY not in result.stdout
    assert result.stderr.strip().startswith(f"sel: error: SEL_GENERAL_MODEL={broken}: llama.cpp could not load it")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
