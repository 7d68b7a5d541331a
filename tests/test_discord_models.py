"""Choosing models while SEL runs (`!model`, `/sel model`): the real discord.py against the stand-in, real llama.cpp
on two scripted tiny GGUFs in a temporary models folder (each always says which one it is), and a real
OpenAI-compatible server on loopback for a remote slot.

Everyone may list; only the bot's owner (alice, in the stand-in) switches; the next reply comes from the new
model; the choice is saved in SEL_DATA_DIR/models.json and used at the next start, unless it no longer fits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from sel.app import open_app
from sel.config import DEFAULT_EMBED_DIR, Settings, default_models_dir
from sel.domain import IncomingMessage
from sel.frontends.discord.command_errors import NO_OWNER
from sel.model_choice import FILE_NAME, SavedChoice, apply_saved, save_choice
from tests.discord_fixtures import mention, prefix, replies_in, slash
from tests.fault_proxy import FaultProxy
from tests.gguf_scripted import write_scripted_llama
from tests.model_server import API_KEY, ModelServer, model_server  # noqa: F401


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    write_scripted_llama(folder / "alpha.gguf", ["I am", " alpha"], name="alpha")
    write_scripted_llama(folder / "beta.gguf", ["I am", " beta"], name="beta")
    return folder


def local_env(models_dir: Path) -> dict[str, str]:
    """Both slots on alpha.gguf, in a models folder of its own (the memory store keeps the bundled embedder)."""
    alpha = str(models_dir / "alpha.gguf")
    return {
        "SEL_MODELS_DIR": str(models_dir),
        "SEL_EMBED_MODEL": str(default_models_dir() / DEFAULT_EMBED_DIR),
        "SEL_GENERAL_MODEL": alpha,
        "SEL_CODER_MODEL": alpha,
        "SEL_TEMPERATURE": "0",
    }


async def ask(standin, bot, text: str) -> str:
    channel = standin.general.id
    before = len(standin.bot_messages(channel))
    await standin.send_message(channel, standin.alice, f"{mention(bot)} {text}")
    # Lowercased once SEL has mirrored alice's lowercase style for a few messages.
    return (await replies_in(standin, channel, count=before + 1))[-1].content.lower()


async def test_everyone_lists_only_the_owner_switches_and_the_next_reply_uses_the_new_model(
    sel_env, standin, models_dir
) -> None:
    bot = await sel_env(**local_env(models_dir))
    assert await ask(standin, bot, "hi, who are you?") == "i am alpha"

    listed = await prefix(standin, standin.bob, "!model")
    assert "**general** (in the models folder): `alpha.gguf` (now), `beta.gguf`" in listed, listed
    assert "**coder** (in the models folder): `alpha.gguf` (now), `beta.gguf`" in listed, listed
    assert "`beta.gguf`" in (await slash(standin, standin.bob, "model")).content

    assert await prefix(standin, standin.bob, "!model general beta.gguf") == NO_OWNER
    assert (await slash(standin, standin.bob, "model", slot="general", name="beta.gguf")).content == NO_OWNER
    assert await ask(standin, bot, "still you?") == "i am alpha", "a refused switch changed the model"

    assert await prefix(standin, standin.alice, "!model general beta.gguf") == "The general slot now uses `beta.gguf`."
    assert await ask(standin, bot, "and now?") == "i am beta"
    assert Path(bot.app.last_stats.model_path).name == "beta.gguf"
    assert (await bot.app.status()).slots["general"].name == "beta.gguf"
    assert "`beta.gguf` (now)" in await prefix(standin, standin.bob, "!model")

    refused = await prefix(standin, standin.alice, "!model general gamma.gguf")
    assert (
        refused
        == "no model named 'gamma.gguf' is in the models folder; the general slot can use: alpha.gguf, beta.gguf"
    )
    saved = json.loads((bot.app.settings.data_dir / FILE_NAME).read_text())
    assert saved == {"slots": {"general": {"model": "beta.gguf", "server": None}}}


async def test_a_saved_choice_is_used_at_the_next_start_and_dropped_with_a_warning_once_its_file_is_gone(
    make_settings, models_dir, caplog
) -> None:
    settings = make_settings(**local_env(models_dir))
    save_choice(settings.data_dir, "general", SavedChoice("beta.gguf"))
    app = await asyncio.to_thread(open_app, settings, with_memory=False)
    try:
        assert (await app.status()).slots == {"general": models_dir / "beta.gguf", "coder": models_dir / "alpha.gguf"}
    finally:
        await app.aclose()

    (models_dir / "beta.gguf").unlink()
    with caplog.at_level(logging.WARNING, logger="sel.app"):
        app = await asyncio.to_thread(open_app, settings, with_memory=False)
    try:
        assert (await app.status()).slots["general"] == models_dir / "alpha.gguf", ".env's model is used instead"
    finally:
        await app.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "sel.app"]
    assert warnings == [
        f"{settings.data_dir / FILE_NAME}: the general slot's saved model beta.gguf is no longer in {models_dir}; "
        "using SEL_GENERAL_MODEL from .env"
    ]


def test_a_choice_saved_for_a_server_does_not_apply_once_the_slot_runs_locally(make_settings, models_dir) -> None:
    settings: Settings = make_settings(**local_env(models_dir))
    save_choice(settings.data_dir, "coder", SavedChoice("tiny-base", "http://127.0.0.1:9/v1"))
    applied, warnings = apply_saved(settings)
    assert applied.coder_model == settings.coder_model
    assert len(warnings) == 1 and "tiny-base was chosen for another server; the slot is now a local GGUF" in warnings[0]


async def test_a_remote_slot_lists_its_servers_models_and_switches_to_one(
    sel_env,
    standin,
    models_dir,
    model_server: ModelServer,  # noqa: F811
) -> None:
    remote = {"SEL_CODER_URL": model_server.url, "SEL_CODER_MODEL": "tiny-chat", "SEL_API_KEY": API_KEY}
    bot = await sel_env(**{**local_env(models_dir), **remote})
    listed = await prefix(standin, standin.bob, "!model")
    assert "**coder** (from its server): `tiny-chat` (now), `tiny-base`, `thinker`" in listed, listed
    assert model_server.url not in listed

    answer = await prefix(standin, standin.alice, "!model coder tiny-base")
    assert answer == "The coder slot now uses `tiny-base`."
    await ask(standin, bot, "code: how do i reverse a list in python?")
    stats = bot.app.last_stats
    assert (stats.slot, stats.model_path) == ("coder", "tiny-base")
    saved = json.loads((bot.app.settings.data_dir / FILE_NAME).read_text())
    assert saved["slots"]["coder"] == {"model": "tiny-base", "server": model_server.url}


async def test_a_reply_being_written_finishes_on_its_model_and_the_old_engine_closes_after(
    make_settings,
    models_dir,
    model_server: ModelServer,  # noqa: F811
) -> None:
    proxy = FaultProxy(model_server.port)
    await proxy.start()
    remote = {"SEL_GENERAL_URL": proxy.url, "SEL_GENERAL_MODEL": "tiny-chat", "SEL_API_KEY": API_KEY}
    settings = make_settings(**{**local_env(models_dir), **remote, "SEL_MAX_NEW_TOKENS": "40"})
    app = await asyncio.to_thread(open_app, settings, with_memory=False)
    try:
        old = app.engine
        proxy.hold_after(3)  # the server's answer pauses after its first events: the reply is mid-way
        msg = IncomingMessage("1001", "ana", "dm-1001", "hey SEL, who are you today?", is_dm=True)
        reply = asyncio.create_task(collect(app.brain.respond(msg, (), app.brain.decide(msg))))
        await wait_until(proxy.holding.is_set)
        await app.switch_model("general", "tiny-base")
        proxy.release()
        assert (await reply).strip(), "the reply being written must finish on the model it began with"
        assert [r.json()["model"] for r in proxy.seen("/chat/completions")] == ["tiny-chat"]
        await wait_until(lambda: old.remote is not None and old.remote._client is None)  # closed: its client dropped
        assert app.engine is not old and app.engine.status()["servers"]["general"]["model"] == "tiny-base"
    finally:
        await app.aclose()
        await proxy.close()


async def collect(stream) -> str:
    return "".join([piece async for piece in stream])


async def wait_until(condition, tries: int = 600) -> None:
    """Poll ``condition`` on the loop (at most a minute), without asserting anything about speed."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{condition} never became true")


def test_a_damaged_choices_file_is_ignored_with_a_warning(make_settings, models_dir, caplog) -> None:
    settings: Settings = make_settings(**local_env(models_dir))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / FILE_NAME).write_text('{"slots": {"general": ')
    with caplog.at_level(logging.WARNING, logger="sel.model_choice"):
        applied, warnings = apply_saved(settings)
    assert applied == settings and warnings == []
    assert [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()], "say why the choices are unused"
