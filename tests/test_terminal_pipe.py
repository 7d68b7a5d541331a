"""`sel chat` end to end, piped, on tiny generated models."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import run_sel


def test_piped_chat_writes_one_reply_per_line_and_exits_at_eof(tiny_models, tmp_path: Path) -> None:
    env = {
        "SEL_GENERAL_MODEL": str(tiny_models.general),
        "SEL_CODER_MODEL": str(tiny_models.coder),
        "SEL_DATA_DIR": str(tmp_path / "data"),
        "SEL_MAX_NEW_TOKENS": "6",
        "SEL_SEED": "1",
    }
    result = run_sel("chat", env=env, cwd=tmp_path, stdin="hello sel\nhow is the weather today?\n\nbye now\n")
    assert result.returncode == 0, result.stderr
    replies = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(replies) == 3, f"expected one reply per non-empty input line, got {result.stdout!r}"
    assert "you>" not in result.stdout, "piped mode must not print the interactive prompt"


def test_terminal_user_is_local_for_the_memory_tools(tiny_models, bundled_models_dir: Path, tmp_path: Path) -> None:
    env = {
        "SEL_GENERAL_MODEL": str(tiny_models.general),
        "SEL_CODER_MODEL": str(tiny_models.coder),
        "SEL_EMBED_MODEL": str(bundled_models_dir / "all-MiniLM-L6-v2-int8"),
        "SEL_DATA_DIR": str(tmp_path / "data"),
        "SEL_MAX_NEW_TOKENS": "4",
    }
    assert run_sel("memory", "consent", "local", "on", env=env, cwd=tmp_path).returncode == 0
    chat = run_sel("chat", env=env, cwd=tmp_path, stdin="by the way, my turtle is called Shelly\n")
    assert chat.returncode == 0, chat.stderr
    recall = run_sel("memory", "recall", "local", "what is my turtle called", "--json", env=env, cwd=tmp_path)
    assert recall.returncode == 0, recall.stderr
    assert "Shelly" in recall.stdout, f"the terminal chat did not remember for user 'local': {recall.stdout}"
