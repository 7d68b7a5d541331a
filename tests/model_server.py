"""A real OpenAI-compatible model server for tests: llama-cpp-python's server on loopback, tiny GGUFs.

`python -m llama_cpp.server` (the `llama-cpp-python[server]` extra) serves the models of a config
file by name, so one process holds a chat model, a base model and a scripted "reasoning" model.
The server is started, waited for until `/v1/models` answers, and killed at teardown.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.gguf_fixtures import SIMPLE_CHAT_TEMPLATE, write_tiny_llama
from tests.gguf_scripted import write_scripted_llama

API_KEY = "sk-test-7f3a9c0e-not-a-real-key"
STARTUP_LIMIT = 180.0  # seconds a server may take to come up on a busy 2-core machine before the test fails
THINK_SCRIPT = ["<think>", "plan a friendly hello", "</think>", "\n\n", "hello there", " friend"]


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ModelServer:
    """One `llama_cpp.server` process; ``restart()`` brings it back on the same port."""

    config: Path
    port: int
    log: Path
    api_key: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--config_file", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_ready()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no goodbye to open connections."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT
        request = urllib.request.Request(self.url + "/models")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the model server exited at start-up:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"the model server did not answer /v1/models within {STARTUP_LIMIT:g} s")


def write_models(folder: Path) -> dict[str, Path]:
    """The tiny GGUFs a test server serves, by the name it serves them under."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "tiny-chat": write_tiny_llama(
            folder / "chat.gguf", seed=3, name="tiny-chat", chat_template=SIMPLE_CHAT_TEMPLATE
        ),
        "tiny-base": write_tiny_llama(folder / "base.gguf", seed=1, name="tiny-base"),
        "thinker": write_scripted_llama(folder / "thinker.gguf", THINK_SCRIPT, name="thinker"),
    }


def make_server(folder: Path, *, api_key: str | None = API_KEY, port: int | None = None) -> ModelServer:
    """A server (not started yet) for the tiny models, with its config file and log in ``folder``."""
    models = write_models(folder / "models")
    port = port or free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "api_key": api_key,
        # A waiting request must not cut off the one streaming (llama-cpp-python's default does).
        "interrupt_requests": False,
        "models": [
            {"model": str(path), "model_alias": alias, "n_ctx": 1024, "n_threads": 1, "verbose": False}
            for alias, path in models.items()
        ],
    }
    (folder / "server.json").write_text(json.dumps(config))
    return ModelServer(folder / "server.json", port, folder / "server.log", api_key)


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    """One server for the whole session; tests that kill a server start their own."""
    server = make_server(tmp_path_factory.mktemp("model-server"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ModelServer]:
    """A server for one test, which it may kill and restart."""
    server = make_server(tmp_path / "own-server")
    server.start()
    yield server
    server.kill()
