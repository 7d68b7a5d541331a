"""`sel doctor`: every check OK on a complete set-up; a broken model is reported with its fix."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import run_sel


def doctor(env: dict[str, str], tmp_path: Path) -> tuple[int, dict[str, dict]]:
    result = run_sel("doctor", "--json", env={**env, "SEL_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    return result.returncode, {check["name"]: check for check in json.loads(result.stdout)}


def test_complete_set_up_is_all_ok(bundled_models_dir: Path, tmp_path: Path) -> None:
    code, checks = doctor({"SEL_MODELS_DIR": str(bundled_models_dir)}, tmp_path)
    assert code == 0
    for name in ("python", "llama-cpp-python", "general model", "coder model", "embedding model", "speech-to-text"):
        assert checks[name]["status"] == "OK", checks[name]
    assert checks["text-to-speech"]["status"] == "OK"
    assert "gemma3" in checks["general model"]["detail"]


def test_truncated_model_is_missing_with_a_fix_and_a_failing_exit(bundled_models_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    with (bundled_models_dir / "gemma-3-270m-Q4_K_M.gguf").open("rb") as fh:
        broken.write_bytes(fh.read(3_000_000))
    code, checks = doctor({"SEL_MODELS_DIR": str(bundled_models_dir), "SEL_GENERAL_MODEL": str(broken)}, tmp_path)
    assert code == 1
    assert checks["general model"]["status"] == "MISSING"
    assert "llama.cpp cannot load it" in checks["general model"]["detail"]
    assert "SEL_GENERAL_MODEL" in checks["general model"]["fix"]
    assert checks["coder model"]["status"] == "OK"


def test_missing_voice_model_is_reported(bundled_models_dir: Path, tmp_path: Path) -> None:
    code, checks = doctor(
        {"SEL_MODELS_DIR": str(bundled_models_dir), "PIPER_MODEL": str(tmp_path / "no.onnx")}, tmp_path
    )
    assert checks["text-to-speech"]["status"] == "MISSING"
    assert "PIPER_MODEL" in checks["text-to-speech"]["fix"]
    assert code == 1


def write_header_only_gguf(path: Path, arch: str) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"tiny-{arch}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return path


def test_vision_projector_must_be_a_clip_gguf(bundled_models_dir: Path, tiny_models, tmp_path: Path) -> None:
    env = {"SEL_MODELS_DIR": str(bundled_models_dir), "SEL_VISION_MODEL": str(tiny_models.chat)}
    projector = write_header_only_gguf(tmp_path / "mmproj.gguf", "clip")
    _, checks = doctor({**env, "SEL_VISION_MMPROJ": str(projector)}, tmp_path)
    assert checks["vision mmproj model"]["status"] == "OK", checks["vision mmproj model"]
    code, checks = doctor({**env, "SEL_VISION_MMPROJ": str(tiny_models.general)}, tmp_path)
    assert checks["vision mmproj model"]["status"] == "MISSING"
    assert "a llama model, not a vision projector" in checks["vision mmproj model"]["detail"]
    assert code == 1
