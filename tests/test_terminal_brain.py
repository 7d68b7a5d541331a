"""The terminal chat end to end through the brain, on two tiny generated GGUF models and real llama.cpp."""

from __future__ import annotations

import io
import re
from datetime import datetime

from sel.app import open_app
from sel.frontends.terminal import chat


def local_noon() -> float:
    return datetime.now().replace(hour=12, minute=0, second=0, microsecond=0).timestamp()


async def run_lines(settings, lines: list[str], app=None) -> list[str]:
    out = io.StringIO()
    code = await chat(settings, io.StringIO("".join(f"{line}\n" for line in lines)), out, app=app)
    assert code == 0
    return out.getvalue().splitlines()


def after(lines: list[str], prefix: str, occurrence: int = 0) -> str:
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) > occurrence, f"no line {occurrence + 1} starting with {prefix!r} in:\n" + "\n".join(lines)
    return found[occurrence]


async def test_code_goes_to_the_coder_model_and_chat_to_the_general_one(make_settings, tiny_models):
    settings = make_settings(SEL_SINGLE_BACKEND="1")
    lines = await run_lines(
        settings,
        [
            "how do i reverse a list in python?",
            "/status",
            "how was your day?",
            "/status",
            "/why",
        ],
    )
    first, second = after(lines, "last reply:", 0), after(lines, "last reply:", 1)
    assert first.startswith("last reply: coder slot, coder.gguf"), first
    assert second.startswith("last reply: general slot, general.gguf"), second
    assert after(lines, "models loaded:", 1).endswith("swaps: 1"), "single backend: one model out, the other in"
    assert str(tiny_models.general) in after(lines, "models loaded:", 1)
    assert after(lines, "route:").startswith("route: general")
    assert after(lines, "priority:").startswith("priority: high (score 100) — a direct message")
    replies = [lines[0], lines[5]]
    assert all(reply.strip() for reply in replies), f"empty reply in {lines}"


async def test_code_prefix_forces_the_coder_for_plain_chat(make_settings):
    lines = await run_lines(make_settings(), ["code: hello there", "/status", "/why"])
    assert after(lines, "last reply:").startswith("last reply: coder slot")
    assert "forced by the 'code:' prefix" in after(lines, "route:")


async def test_mode_and_mood_commands(make_settings):
    settings = make_settings()
    lines = await run_lines(settings, ["/mode playful", "/mode grumpy", "/mode", "/mood", "/nope"])
    assert lines[0] == "mode: playful"
    assert lines[1] == "sel: unknown mode 'grumpy'; choose one of: casual, deep_focus, playful, quiet_companion"
    assert lines[2].startswith("mode: playful")
    assert after(lines, "mood: ")
    assert after(lines, "dopamine")
    assert after(lines, "sel: unknown command /nope")


async def test_praise_in_the_terminal_lifts_sels_dopamine_and_is_saved(make_settings):
    settings = make_settings()
    noon = local_noon()
    clock = iter(noon + i for i in range(10_000))
    app = open_app(settings, with_memory=False, clock=lambda: next(clock))
    try:
        lines = await run_lines(
            settings, ["/mood", "thank you, you're the best!!", "thanks again, love it", "/mood"], app
        )
    finally:
        await app.aclose()
    levels = [float(re.split(r"\s+", line)[1]) for line in lines if line.startswith("dopamine")]
    assert len(levels) == 2 and levels[1] > levels[0] + 0.2, f"dopamine before/after praise: {levels}"
    assert (settings.data_dir / "hormones.json").exists(), "the hormone state must be saved for the next start"


async def test_second_turn_reuses_the_whole_first_prompt_from_the_kv_cache(make_settings):
    # The brain's layout (stable persona; SEL's turn keeps the tone note it was written under)
    # means the second prompt starts with the first prompt, so llama.cpp evaluates only what is new.
    lines = await run_lines(
        make_settings(), ["hi sel, how are you doing today?", "/status", "and what are you up to tonight?", "/status"]
    )

    def prompt_numbers(line: str) -> tuple[int, int]:
        match = re.search(r"prompt (\d+) tokens, (\d+) of them evaluated", line)
        assert match, line
        return int(match.group(1)), int(match.group(2))

    first_prompt, _ = prompt_numbers(after(lines, "last reply:", 0))
    second_prompt, evaluated = prompt_numbers(after(lines, "last reply:", 1))
    reused = second_prompt - evaluated
    assert reused >= first_prompt, (
        f"only {reused} tokens reused, but the first prompt had {first_prompt}: the prefix changed between turns"
    )


class Keyboard(io.StringIO):
    """Typed input: the chat sees a terminal, as when a person runs `sel chat`."""

    def isatty(self) -> bool:
        return True


async def test_in_a_terminal_a_model_that_fails_to_load_is_reported_and_the_chat_goes_on(make_settings, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    out = io.StringIO()
    code = await chat(make_settings(SEL_CODER_MODEL=str(broken)), Keyboard("code: print(1)\nhello sel\n/status\n"), out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert after(lines, "sel: ").startswith(f"sel: SEL_CODER_MODEL={broken}: llama.cpp could not load it")
    assert after(lines, "you> SEL> ", 0), "the general model still answers the next line"
    assert "last reply: general slot" in out.getvalue()


def test_piped_chat_stops_with_one_line_and_exit_2_when_a_model_cannot_load(make_settings, tmp_path, tiny_models):
    from tests.cli_runner import run_sel

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    env = {"SEL_GENERAL_MODEL": str(broken), "SEL_CODER_MODEL": str(tiny_models.coder), "SEL_DATA_DIR": str(tmp_path)}
    result = run_sel("chat", env=env, cwd=tmp_path, stdin="hi\nhello\n")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().startswith(f"sel: error: SEL_GENERAL_MODEL={broken}: llama.cpp could not load it")
    assert len(result.stderr.strip().splitlines()) == 1
