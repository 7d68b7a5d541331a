"""Settings: defaults, `.env` loading, and a one-line error for every kind of bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sel.config import MODES, load_settings, read_environment
from sel.errors import ConfigError, ModelError
from tests.cli_runner import run_sel


def test_defaults_match_the_original_design() -> None:
    s = load_settings({})
    assert (s.max_new_tokens, s.stream, s.checkins, s.drop_old_seconds) == (128, True, False, 30.0)
    assert (s.temperature, s.top_p, s.repeat_penalty) == (0.7, 0.9, 1.1)
    assert s.single_backend is True and s.mode == "casual" and s.stt_model == "tiny.en"
    assert s.general_model == s.coder_model == s.models_dir / "gemma-3-270m-Q4_K_M.gguf"
    assert s.resolve_stt_model() == s.models_dir / "faster-whisper-tiny.en"


def test_paths_from_the_environment_win_over_defaults(tmp_path: Path) -> None:
    s = load_settings({"SEL_GENERAL_MODEL": str(tmp_path / "mine.gguf"), "STT_MODEL": str(tmp_path)})
    assert s.general_model == tmp_path / "mine.gguf"
    assert s.coder_model.name == "gemma-3-270m-Q4_K_M.gguf"
    assert s.resolve_stt_model() == tmp_path


def test_quant_selects_the_kv_cache_type_and_compile_maps_to_flash_attention() -> None:
    assert load_settings({"SEL_QUANT": "4bit"}).kv_cache_type == "q4_0"
    assert load_settings({"SEL_QUANT": "8BIT"}).kv_cache_type == "q8_0"
    assert load_settings({}).kv_cache_type is None
    assert load_settings({"SEL_QUANT": "4bit"}).flash_attn is True
    assert load_settings({"SEL_COMPILE": "1"}).flash_attn is True
    assert load_settings({}).flash_attn is False


def test_gpu_layers_default_is_auto_and_accepts_a_number() -> None:
    assert load_settings({}).gpu_layers is None
    assert load_settings({"SEL_GPU_LAYERS": "auto"}).gpu_layers is None
    assert load_settings({"SEL_GPU_LAYERS": "20"}).gpu_layers == 20


@pytest.mark.parametrize(
    ("env", "pattern"),
    [
        ({"SEL_MAX_NEW_TOKENS": "lots"}, r"SEL_MAX_NEW_TOKENS='lots' is not a whole number; set it to a number"),
        ({"SEL_MAX_NEW_TOKENS": "0"}, r"SEL_MAX_NEW_TOKENS=0 is out of range; set it to a number from 1 to 8192"),
        ({"SEL_CTX": "-5"}, r"SEL_CTX=-5 is out of range"),
        ({"SEL_TEMPERATURE": "hot"}, r"SEL_TEMPERATURE='hot' is not a number"),
        ({"SEL_TOP_P": "1.5"}, r"SEL_TOP_P=1.5 is out of range"),
        ({"SEL_STREAM": "maybe"}, r"SEL_STREAM='maybe' is not a yes/no value; set it to 1 or 0"),
        ({"SEL_MODE": "grumpy"}, r"SEL_MODE='grumpy' is not a known value; use one of: casual, deep_focus"),
        ({"SEL_QUANT": "3bit"}, r"SEL_QUANT='3bit' is not a known value; use one of: none, f16, 4bit, 8bit"),
        ({"SEL_DROP_OLD_SECONDS": "soon"}, r"SEL_DROP_OLD_SECONDS='soon' is not a number"),
        ({"SEL_TIMEZONE": "Mars/Olympus"}, r"SEL_TIMEZONE='Mars/Olympus' is not a time zone; use an IANA name"),
        ({"SEL_ALLOWED_USERS": "123,alice"}, r"SEL_ALLOWED_USERS: 'alice' is not a Discord id"),
        ({"SEL_VISION_MODEL": "/nope/vision.gguf", "SEL_VISION_MMPROJ": "/nope/mmproj.gguf"}, r"file not found"),
    ],
)
def test_bad_values_raise_one_line_naming_the_variable_and_the_fix(env: dict[str, str], pattern: str) -> None:
    with pytest.raises((ConfigError, ModelError), match=pattern) as info:
        load_settings(env)
    assert "\n" not in str(info.value)


def test_vision_model_without_mmproj_is_refused(tiny_models) -> None:
    with pytest.raises(ConfigError, match="SEL_VISION_MODEL and SEL_VISION_MMPROJ go together"):
        load_settings({"SEL_VISION_MODEL": str(tiny_models.general)})


def test_every_mode_is_accepted() -> None:
    for mode in MODES:
        assert load_settings({"SEL_MODE": mode.upper()}).mode == mode


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SEL_MODE=playful\nSEL_CTX=2048\n")
    monkeypatch.setenv("SEL_CTX", "1024")
    env = read_environment(tmp_path / ".env")
    s = load_settings(env)
    assert s.mode == "playful" and s.ctx == 1024


def test_redacted_view_hides_the_token() -> None:
    data = load_settings({"DISCORD_TOKEN": "MTIz.secret.token"}).redacted()
    assert data["discord_token"] == "(set, hidden)"
    assert "MTIz.secret.token" not in repr(data)
    assert "MTIz.secret.token" not in repr(load_settings({"DISCORD_TOKEN": "MTIz.secret.token"}))


def test_cli_reports_a_bad_value_in_one_line_without_traceback(tmp_path: Path) -> None:
    result = run_sel("config", env={"SEL_MAX_NEW_TOKENS": "many"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "sel: error: SEL_MAX_NEW_TOKENS='many' is not a whole number; "
        "set it to a number from 1 to 8192 in .env or unset it"
    )
    assert "Traceback" not in result.stderr


def test_cli_reports_a_missing_model_for_chat(tmp_path: Path) -> None:
    result = run_sel("chat", env={"SEL_GENERAL_MODEL": str(tmp_path / "gone.gguf")}, cwd=tmp_path, stdin="hi\n")
    assert result.returncode == 2
    assert result.stderr.startswith(f"sel: error: SEL_GENERAL_MODEL={tmp_path / 'gone.gguf'}: file not found;")
    assert len(result.stderr.strip().splitlines()) == 1


def test_token_never_appears_in_config_doctor_or_debug_output(tmp_path: Path) -> None:
    token = "MTA5.NOT-A-REAL.discord-token-xyz"
    env = {"DISCORD_TOKEN": token, "SEL_DATA_DIR": str(tmp_path)}
    for args in (("config",), ("config", "--json"), ("--debug", "doctor"), ("doctor", "--json")):
        result = run_sel(*args, env=env, cwd=tmp_path)
        assert token not in result.stdout + result.stderr, f"`sel {' '.join(args)}` leaked the token"
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={token}\n")
    result = run_sel("config", cwd=tmp_path)
    assert "(set, hidden)" in result.stdout and token not in result.stdout


HEAVY_MODULES = (
    "llama_cpp",
    "numpy",
    "discord",
    "fastembed",
    "faster_whisper",
    "piper",
    "hnswlib",
    "av",
    "onnxruntime",
)


def imported_modules(importtime_report: str) -> set[str]:
    """Every module named in a `python -X importtime` report (its last column)."""
    lines = [line for line in importtime_report.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[-1].strip() for line in lines[1:]}  # the first line is the header


@pytest.mark.parametrize("argv", [["--help"], ["config"], ["memory", "--help"]], ids=" ".join)
def test_help_and_config_start_without_heavy_imports(tmp_path: Path, argv: list[str]) -> None:
    result = run_sel(*argv, env={"PYTHONPROFILEIMPORTTIME": "1", "SEL_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    imported = imported_modules(result.stderr)
    assert "sel.cli" in imported, "the report should list the modules `sel` imported"
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY_MODULES)
    assert not heavy, f"`sel {' '.join(argv)}` imported heavy modules it does not need: {heavy}"


def test_discord_start_failure_is_one_line_and_never_shows_the_token(tmp_path: Path, tiny_models) -> None:
    token = "MTA5.fake-token.for-a-test"
    env = {
        "DISCORD_TOKEN": token,
        "SEL_GENERAL_MODEL": str(tiny_models.general),
        "SEL_CODER_MODEL": str(tiny_models.coder),
        "SEL_DATA_DIR": str(tmp_path / "data"),
    }
    result = run_sel("run", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sel: error:"), result.stderr
    assert token not in result.stdout + result.stderr


def test_data_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    with pytest.raises(ConfigError, match=r"SEL_DATA_DIR=.*not-a-folder is a file, not a folder"):
        load_settings({"SEL_DATA_DIR": str(target)})


def test_unusable_data_files_stop_start_up_with_one_line(tmp_path: Path, tiny_models) -> None:
    data = tmp_path / "data"
    (data / "hormones.json").mkdir(parents=True)  # a folder where a file belongs
    env = {"SEL_GENERAL_MODEL": str(tiny_models.general), "SEL_CODER_MODEL": str(tiny_models.coder)}
    result = run_sel("chat", env={**env, "SEL_DATA_DIR": str(data)}, cwd=tmp_path, stdin="hi\n")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"sel: error: SEL_DATA_DIR={data}: cannot use "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    blocked = tmp_path / "file"
    blocked.write_text("x")
    result = run_sel("chat", env={**env, "SEL_DATA_DIR": str(blocked / "sub")}, cwd=tmp_path, stdin="hi\n")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_bad_choice_is_quoted_as_written() -> None:
    with pytest.raises(ConfigError, match=r"SEL_MODE='Funny' is not a known value"):
        load_settings({"SEL_MODE": "Funny"})
