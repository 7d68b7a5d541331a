"""The deployment files hold together: docker compose files, the Dockerfile stages they build, the
settings they give SEL, and the scripts. There is no Docker engine here, so the YAML is checked as
data, SEL reads the compose environment through its own settings loader, and the scripts run for
real where they can (no GPU: gpu-check must stop at once with one line).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sel.config import load_settings
from sel.config_paths import DEFAULT_GGUF

REPO = Path(__file__).resolve().parents[1]
SERVER_URL = "http://llama:8080/v1"
NO_GPU = "gpu-check: no NVIDIA GPU found (nvidia-smi missing or shows no GPU); run this on a machine with one"


def compose(name: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / name).read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), f"{name}: no services"
    return data


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME:-default}`` with the given (default: empty) environment."""
    env = env or {}

    def one(match: re.Match[str]) -> str:
        return env.get(match[1]) or (match[2] or "")

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}", one, value)


def dockerfile_stages() -> set[str]:
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE | re.I))


def test_compose_runs_sel_beside_llama_server_on_a_private_network() -> None:
    services = compose("docker-compose.yml")["services"]
    networks = compose("docker-compose.yml")["networks"]
    assert networks["models"]["internal"] is True, "the model server's network must have no way out"
    llama, sel = services["llama"], services["sel"]
    assert llama["networks"] == ["models"] and "ports" not in llama, "llama-server must not be reachable from outside"
    assert set(sel["networks"]) == {"models", "default"}, "SEL needs the model server and Discord"
    assert llama["build"]["target"] in dockerfile_stages()
    assert llama["healthcheck"]["test"][-1].endswith(":8080/health")
    assert sel["depends_on"]["llama"]["condition"] == "service_healthy"
    assert llama["depends_on"]["models"]["condition"] == "service_completed_successfully"
    assert "./models:/models" in sel["volumes"] and "./data:/data" in sel["volumes"]
    assert "./models:/models:ro" in llama["volumes"]
    assert sel["env_file"] == [{"path": ".env", "required": False}]


def test_sel_reads_the_compose_environment_as_both_slots_on_the_server(tmp_path: Path) -> None:
    environment = compose("docker-compose.yml")["services"]["sel"]["environment"]
    env = {name: interpolate(str(value)) for name, value in environment.items()}
    settings = load_settings({**env, "SEL_DATA_DIR": str(tmp_path)})
    slots = settings.remote_slots()
    assert set(slots) == {"general", "coder"}, slots
    alias = compose("docker-compose.yml")["services"]["llama"]["environment"]["LLAMA_ARG_ALIAS"]
    for slot in slots.values():
        assert (slot.base_url, slot.model, slot.api) == (SERVER_URL, alias, "completions"), slot
    assert settings.max_parallel == 4


def test_compose_defaults_serve_the_bundled_model_with_room_for_every_parallel_slot() -> None:
    llama = {
        k: interpolate(str(v)) for k, v in compose("docker-compose.yml")["services"]["llama"]["environment"].items()
    }
    assert llama["LLAMA_ARG_MODEL"] == f"/models/{DEFAULT_GGUF}"
    assert int(llama["LLAMA_ARG_CTX_SIZE"]) == 4096 * int(llama["LLAMA_ARG_N_PARALLEL"])
    chosen = {"LLAMA_MODEL": "qwen.gguf", "LLAMA_PARALLEL": "8"}
    raw = compose("docker-compose.yml")["services"]["llama"]["environment"]
    assert interpolate(raw["LLAMA_ARG_MODEL"], chosen) == "/models/qwen.gguf"
    assert interpolate(raw["LLAMA_ARG_N_PARALLEL"], chosen) == "8"


def test_the_cuda_variant_builds_llama_server_with_cuda_and_reserves_the_gpus() -> None:
    llama = compose("docker-compose.cuda.yml")["services"]["llama"]
    assert llama["build"]["target"] in dockerfile_stages()
    assert llama["build"]["args"]["GPU"] == "cuda"
    assert llama["build"]["args"]["BASE"].startswith("nvidia/cuda:") and "devel" in llama["build"]["args"]["BASE"]
    assert llama["build"]["args"]["RUNTIME_BASE"].startswith("nvidia/cuda:")
    [device] = llama["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert llama["environment"]["LLAMA_ARG_N_GPU_LAYERS"] == "all"
    dockerfile = (REPO / "Dockerfile").read_text()
    for arg in llama["build"]["args"]:
        assert re.search(rf"^ARG {arg}\b", dockerfile, re.MULTILINE), f"the Dockerfile has no ARG {arg}"


def test_the_dockerfile_copies_only_files_that_exist_and_builds_sel_last() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
        for source in sources.split():
            assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    froms = re.findall(r"^FROM .*$", dockerfile, re.MULTILINE)
    assert froms[-1].endswith("AS sel"), "a plain `docker build .` must still build SEL"


def test_llama_server_knows_every_variable_the_compose_files_give_it() -> None:
    binary = REPO / ".venv" / "bin" / "llama-server"
    if not binary.exists():
        pytest.skip("llama-server is not built here (scripts/build-llama-server)")
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60).stdout
    names = set()
    for name in ("docker-compose.yml", "docker-compose.cuda.yml"):
        names |= {n for n in compose(name)["services"]["llama"]["environment"] if n.startswith("LLAMA_ARG_")}
    names |= set(re.findall(r"LLAMA_ARG_[A-Z_]+", (REPO / "Dockerfile").read_text()))
    assert names and all(f"env: {n})" in help_text for n in names), sorted(n for n in names if n not in help_text)


# ---- scripts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["scripts/build-llama-server", "scripts/gpu-check"])
def test_scripts_are_strict_executable_bash(script: str) -> None:
    path = REPO / script
    assert path.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "\nset -euo pipefail\n" in text
    subprocess.run(["bash", "-n", str(path)], check=True)


def run_script(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The script with only HOME, PATH and ``env`` in its environment."""
    base = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": os.environ["PATH"]}
    return subprocess.run([REPO / script, *args], capture_output=True, text=True, env={**base, **env}, timeout=60)


def test_gpu_check_without_nvidia_smi_stops_at_once_with_one_line(tmp_path: Path) -> None:
    # Only the basic tools: no nvidia-smi anywhere on PATH.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "dirname", "grep", "timeout"):
        (tools / tool).symlink_to(subprocess.check_output(["bash", "-c", f"command -v {tool}"], text=True).strip())
    result = run_script("scripts/gpu-check", {"PATH": str(tools)})
    assert result.returncode != 0
    assert (result.stdout, result.stderr) == ("", NO_GPU + "\n")


def test_gpu_check_with_nvidia_smi_but_no_gpu_stops_at_once_with_one_line(tmp_path: Path) -> None:
    # A driver without a usable GPU: nvidia-smi itself is there but lists no device (as it does in
    # a container started without GPU access). This stand-in is the one thing that cannot exist here.
    (tmp_path / "nvidia-smi").write_text("#!/bin/sh\necho 'No devices were found'\nexit 6\n")
    (tmp_path / "nvidia-smi").chmod(0o755)
    home = tmp_path / "home"
    result = run_script("scripts/gpu-check", {"PATH": f"{tmp_path}:{os.environ['PATH']}", "HOME": str(home)})
    assert result.returncode != 0
    assert (result.stdout, result.stderr) == ("", NO_GPU + "\n")
    assert not home.exists(), "nothing may be installed before the GPU check"


def test_build_llama_server_skips_a_build_it_already_made(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "llama-server").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "llama-server").chmod(0o755)
    (tmp_path / "bin" / ".llama-server.stamp").write_text("llama-cpp-python 9.9.9 GPU=cpu")
    env = {"LLAMA_CPP_VERSION": "9.9.9", "SEL_BUILD_CACHE": str(tmp_path / "cache")}
    result = run_script("scripts/build-llama-server", env, str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "already built" in result.stderr
    assert not (tmp_path / "cache").exists(), "nothing may be downloaded or compiled"


def test_build_llama_server_refuses_an_unknown_gpu_in_one_line(tmp_path: Path) -> None:
    result = run_script("scripts/build-llama-server", {"GPU": "rocm"}, str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == "build-llama-server: unknown GPU=rocm; use GPU=cpu (default) or GPU=cuda\n"
