"""Settings for model servers: per-slot URLs and model names, API keys that are never shown, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from sel.config import RemoteSlot, load_settings
from sel.errors import ConfigError
from tests.cli_runner import run_sel


def test_without_urls_every_slot_is_local_and_the_defaults_hold() -> None:
    s = load_settings({})
    assert s.remote_slots() == {} and s.llm.remote_slots() == {}
    assert (s.max_parallel, s.connect_timeout, s.read_timeout, s.show_reasoning) == (4, 5.0, 120.0, "hide")
    assert not s.has_vision


def test_a_slot_with_a_url_is_remote_and_its_model_is_a_name_kept_as_written() -> None:
    s = load_settings(
        {
            "SEL_CODER_URL": "http://127.0.0.1:8080/v1/",
            "SEL_CODER_MODEL": "./models/coder.gguf",  # llama-cpp-python's server names a model by its path
            "SEL_GENERAL_URL": "https://llm.example.org/v1",
            "SEL_GENERAL_MODEL": "qwen2.5:7b",
            "SEL_API_KEY": "sk-shared",
            "SEL_GENERAL_API_KEY": "sk-general",
            "SEL_CODER_API": "completions",
        }
    )
    assert s.remote_slots() == {
        "coder": RemoteSlot("coder", "http://127.0.0.1:8080/v1", "./models/coder.gguf", "sk-shared", "completions"),
        "general": RemoteSlot("general", "https://llm.example.org/v1", "qwen2.5:7b", "sk-general", "chat"),
    }
    assert s.redacted()["coder_model"] == "./models/coder.gguf"


def test_a_remote_vision_slot_needs_no_projector_and_counts_as_vision() -> None:
    s = load_settings({"SEL_VISION_URL": "http://h:1/v1", "SEL_VISION_MODEL": "gemma3:4b"})
    assert s.has_vision and s.llm.has_vision and s.remote_slots()["vision"].model == "gemma3:4b"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SEL_GENERAL_URL": "localhost:8080/v1"}, "SEL_GENERAL_URL='localhost:8080/v1' is not an http(s) URL"),
        ({"SEL_GENERAL_URL": "ftp://h/v1"}, "SEL_GENERAL_URL='ftp://h/v1' is not an http(s) URL with a host; set"),
        ({"SEL_CODER_URL": "http:///v1"}, "SEL_CODER_URL='http:///v1' is not an http(s) URL with a host"),
        ({"SEL_CODER_URL": "http://h:port/v1"}, "SEL_CODER_URL='http://h:port/v1' is not an http(s) URL"),
        ({"SEL_GENERAL_URL": "http://127.0.0.1:8080"}, "has no API path; add /v1"),
        ({"SEL_GENERAL_URL": "http://u:pw@h/v1"}, "SEL_GENERAL_URL: the URL holds a user or password; remove it"),
        ({"SEL_GENERAL_URL": "http://h/v1"}, "SEL_GENERAL_URL is set: set SEL_GENERAL_MODEL to the model's name"),
        ({"SEL_MAX_PARALLEL": "0"}, "SEL_MAX_PARALLEL=0 is out of range; set it to a number from 1 to 64"),
        ({"SEL_READ_TIMEOUT": "soon"}, "SEL_READ_TIMEOUT='soon' is not a number"),
        (
            {"SEL_SHOW_REASONING": "always"},
            "SEL_SHOW_REASONING='always' is not a known value; use one of: hide, spoiler",
        ),
        ({"SEL_GENERAL_API": "responses"}, "SEL_GENERAL_API='responses' is not a known value; use one of: chat"),
        (
            {"SEL_VISION_URL": "http://h/v1", "SEL_VISION_MODEL": "vl", "SEL_VISION_MMPROJ": "/x/mmproj.gguf"},
            "SEL_VISION_MMPROJ is for a local vision GGUF",
        ),
    ],
)
def test_bad_server_settings_are_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_password_in_the_url_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"SEL_GENERAL_URL": "user:hunter2@h/v1"})
    assert "hunter2" not in str(info.value)


def test_api_keys_are_hidden_everywhere_settings_are_shown(tmp_path: Path) -> None:
    env = {
        "SEL_DATA_DIR": str(tmp_path),
        "SEL_GENERAL_URL": "http://127.0.0.1:9/v1",
        "SEL_GENERAL_MODEL": "m",
        "SEL_API_KEY": "sk-shared-SECRET-1",
        "SEL_CODER_API_KEY": "sk-coder-SECRET-2",
    }
    settings = load_settings(env)
    shown = settings.redacted()
    assert shown["api_key"] == shown["coder_api_key"] == "(set, hidden)" and shown["vision_api_key"] == "(not set)"
    assert "SECRET" not in repr(settings) and "SECRET" not in repr(settings.llm) and "SECRET" not in repr(shown)
    for args in (("config",), ("config", "--json")):
        result = run_sel(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "SECRET" not in result.stdout + result.stderr, f"`sel {' '.join(args)}` leaked an API key"
        assert "(set, hidden)" in result.stdout and "http://127.0.0.1:9/v1" in result.stdout
