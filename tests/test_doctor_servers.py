"""`sel doctor` checks each configured model server: up and serving the model, or down with the fix."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import run_sel
from tests.model_server import API_KEY, ModelServer, free_port, model_server  # noqa: F401


def doctor(env: dict[str, str], tmp_path: Path, *args: str) -> tuple[int, str]:
    result = run_sel("doctor", *args, env={**env, "SEL_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout + result.stderr


def test_a_server_that_serves_the_model_is_ok(
    model_server: ModelServer,  # noqa: F811
    bundled_models_dir: Path,
    tmp_path: Path,
) -> None:
    env = {
        "SEL_MODELS_DIR": str(bundled_models_dir),
        "SEL_CODER_URL": model_server.url,
        "SEL_CODER_MODEL": "tiny-chat",
        "SEL_API_KEY": API_KEY,
    }
    code, out = doctor(env, tmp_path, "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert checks["coder server"]["status"] == "OK", checks["coder server"]
    assert checks["coder server"]["detail"] == f"{model_server.url} (tiny-chat) answers and serves the model"
    assert "coder model" not in checks, "a remote slot's model is a name on the server, not a GGUF file"
    assert checks["general model"]["status"] == "OK"
    assert code == 0
    assert API_KEY not in out


def test_a_server_that_is_down_or_lacks_the_model_is_missing_with_the_fix(
    model_server: ModelServer,  # noqa: F811
    bundled_models_dir: Path,
    tmp_path: Path,
) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    env = {
        "SEL_MODELS_DIR": str(bundled_models_dir),
        "SEL_GENERAL_URL": down,
        "SEL_GENERAL_MODEL": "qwen2.5:7b",
        "SEL_CODER_URL": model_server.url,
        "SEL_CODER_MODEL": "qwen2.5-coder:7b",
        "SEL_API_KEY": API_KEY,
    }
    code, out = doctor(env, tmp_path)
    lines = {line.split()[1] + " " + line.split()[2]: line for line in out.splitlines() if " server " in line}
    assert lines["general server"].split()[0] == "MISSING"
    assert lines["general server"].endswith(
        f"SEL_GENERAL_URL={down}: cannot connect (connection refused)  -> start the server or fix the URL"
    )
    assert lines["coder server"].endswith(
        f"SEL_CODER_MODEL=qwen2.5-coder:7b: the model is not on {model_server.url} (it has: tiny-chat, tiny-base, "
        "thinker)  -> set SEL_CODER_MODEL to one of those names"
    )
    assert code == 1
    assert API_KEY not in out
