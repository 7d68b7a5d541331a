"""Shared fixtures: tiny generated GGUF models and isolated settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sel.config import Settings, default_models_dir, load_settings
from sel.llm.engine import Engine
from tests.gguf_fixtures import SIMPLE_CHAT_TEMPLATE, write_tiny_llama

SelRunner = Callable[..., tuple[int, str, str]]  # `sel ARGS...` in-process: (exit code, stdout, stderr)

pytest_plugins = ["tests.standin.fixtures", "tests.discord_fixtures", "tests.ci_requirements"]


@dataclass(frozen=True)
class TinyModels:
    general: Path
    coder: Path
    chat: Path  # has a chat template in its metadata


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    root = tmp_path_factory.mktemp("gguf")
    return TinyModels(
        general=write_tiny_llama(root / "general.gguf", seed=1, name="tiny-general"),
        coder=write_tiny_llama(root / "coder.gguf", seed=2, name="tiny-coder"),
        chat=write_tiny_llama(root / "chat.gguf", seed=3, name="tiny-chat", chat_template=SIMPLE_CHAT_TEMPLATE),
    )


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models: TinyModels) -> Callable[..., Settings]:
    """Settings on the tiny models and a temp data dir; keyword arguments override env values."""

    def make(**env: str) -> Settings:
        base = {
            "SEL_DATA_DIR": str(tmp_path / "data"),
            "SEL_GENERAL_MODEL": str(tiny_models.general),
            "SEL_CODER_MODEL": str(tiny_models.coder),
            "SEL_CTX": "1024",
            "SEL_THREADS": "2",
            "SEL_MAX_NEW_TOKENS": "12",
            "SEL_SEED": "7",
        }
        base.update(env)
        return load_settings(base)

    return make


@pytest.fixture(scope="session")
def bundled_models_dir() -> Path:
    """The models directory `make setup` fills; the smoke tests need the real default models."""
    path = default_models_dir()
    if not (path / "gemma-3-270m-Q4_K_M.gguf").exists():
        pytest.fail(f"the bundled models are not installed in {path}; run `make setup` (or `sel models`) first")
    return path


@pytest.fixture
def engine_factory(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Engine]]:
    """Engines built from test settings (``make(**env)``), all closed at the end of the test."""
    engines: list[Engine] = []

    def make(**env: str) -> Engine:
        engine = Engine(make_settings(**env).llm)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def sel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> SelRunner:
    """Run `sel ARGS...` in-process against a temp data dir; return (exit code, stdout, stderr)."""
    from sel.cli import main
    from sel.config import DEFAULT_EMBED_DIR

    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in [n for n in os.environ if n.startswith("SEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SEL_EMBED_MODEL", str(default_models_dir() / DEFAULT_EMBED_DIR))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
