"""The model servers `sel bench engine` starts and stops on loopback.

Two kinds serve a GGUF file over the OpenAI-compatible API under the name :data:`SERVED_NAME`:
llama.cpp's own ``llama-server`` (built by scripts/build-llama-server from the llama.cpp source
llama-cpp-python vendors; it batches ``--parallel`` slots), and llama-cpp-python's server
(``python -m llama_cpp.server``, no compile, one request at a time), which lets the bench's
machinery run where llama-server is not built.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from sel.config import RemoteSlot, Settings
from sel.errors import SelError

SERVED_NAME = "sel-bench"
STARTUP_LIMIT = 180.0  # seconds a server may take to load its model on a busy machine
BUILD_HINT = "run scripts/build-llama-server (or pass --llama-server PATH)"


@dataclass(frozen=True)
class ServerSpec:
    """What to serve and how: the model file, the parallel slots and each slot's context."""

    model: Path
    parallel: int
    ctx_per_slot: int
    threads: int
    flash_attn: bool
    gpu_layers: int = 0  # -1: all of them


@dataclass(frozen=True)
class Launcher:
    """How to start one kind of server: ``llama-server`` (a binary) or ``llama-cpp-python``."""

    kind: str
    program: Path

    def argv(self, spec: ServerSpec, port: int) -> list[str]:
        """The command line serving ``spec`` on 127.0.0.1:``port``."""
        if self.kind == "llama-server":
            return [
                str(self.program),
                *("-m", str(spec.model), "--alias", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port)),
                *("--parallel", str(spec.parallel), "-c", str(spec.ctx_per_slot * spec.parallel)),
                *("-t", str(spec.threads), "-fa", "on" if spec.flash_attn else "off"),
                *("-ngl", "all" if spec.gpu_layers < 0 else str(spec.gpu_layers)),
            ]
        # One model, no batching: requests queue; a new one must not interrupt the one streaming.
        return [
            str(self.program),
            *("-m", "llama_cpp.server", "--model", str(spec.model), "--model_alias", SERVED_NAME),
            *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(spec.ctx_per_slot)),
            *("--n_threads", str(spec.threads), "--flash_attn", str(spec.flash_attn), "--interrupt_requests", "false"),
            *("--n_gpu_layers", str(spec.gpu_layers)),
        ]


@dataclass(frozen=True)
class ServedModel:
    """A server the bench starts (``launcher`` serving ``spec``), and SEL's settings and API for it."""

    launcher: Launcher
    spec: ServerSpec
    settings: Settings
    api: str  # "chat" or "completions", as SEL_GENERAL_API

    def running(self, log: Path) -> contextlib.AbstractContextManager[str]:
        """Start it (output appended to ``log``); the block gets its base URL and it stops after."""
        return running_server(self.launcher, self.spec, log)

    def sel_settings(self, url: str) -> Settings:
        """SEL's settings with both slots on the server at ``url``, as SEL_*_URL would configure them."""
        remote = tuple(RemoteSlot(slot, url, SERVED_NAME, None, self.api) for slot in ("general", "coder"))
        return replace(
            self.settings, general_url=url, coder_url=url, general_api=self.api, coder_api=self.api, remote=remote
        )


def find_llama_server(explicit: Path | None = None) -> Launcher:
    """llama-server: ``explicit``, else the one beside this Python (.venv/bin), else on PATH."""
    if explicit is not None:
        if not (explicit.is_file() and shutil.which(str(explicit))):
            raise SelError(f"--llama-server {explicit}: no executable there; {BUILD_HINT}")
        return Launcher("llama-server", explicit)
    beside = Path(sys.prefix) / "bin" / "llama-server"
    found = beside if beside.is_file() else shutil.which("llama-server")
    if found is None:
        raise SelError(f"llama-server is not built; {BUILD_HINT}")
    return Launcher("llama-server", Path(found))


def python_server() -> Launcher:
    """llama-cpp-python's own server, run by this Python (needs the llama-cpp-python[server] extra)."""
    return Launcher("llama-cpp-python", Path(sys.executable))


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(launcher: Launcher, spec: ServerSpec, log: Path) -> Iterator[str]:
    """Start a server, wait until it serves the model, yield its base URL (ending in /v1), stop it."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            launcher.argv(spec, port), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, process, launcher, log)
        yield url
    finally:
        _stop(process)


def _wait_ready(url: str, process: subprocess.Popen[bytes], launcher: Launcher, log: Path) -> None:
    """Poll ``/models`` until it answers 200 (llama-server says 503 while it loads the model)."""
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SelError(f"{launcher.kind} exited at start-up (code {process.returncode}): {_last_line(log)}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SelError(f"{launcher.kind} did not serve {url}/models within {STARTUP_LIMIT:g} s: {_last_line(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "(no output)"
