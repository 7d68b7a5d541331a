"""The terminal chat end to end through the brain, on two tiny generated GGUF models and real llama.cpp."""

from __future__ import annotations

import io
import re
from datetime import datetime

from sel.frontends.terminal import chat
from sel.runtime import open_runtime


def local_noon() -> float:
    return datetime.now().replace(hour=12, minute=0, second=0, microsecond=0).timestamp()


async def run_lines(settings, lines: list[str], runtime=None) -> list[str]:
    out = io.StringIO()
    code = await chat(settings, io.StringIO("".join(f"{line}\n" for line in lines)), out, runtime=runtime)
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
    runtime = open_runtime(settings, with_memory=False, clock=lambda: next(clock))
    try:
        lines = await run_lines(
            settings, ["/mood", "thank you, you're the best!!", "thanks again, love it", "/mood"], runtime
        )
    finally:
        await runtime.aclose()
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


async def test_a_model_that_fails_to_load_is_reported_and_the_chat_goes_on(make_settings, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    lines = await run_lines(make_settings(SEL_CODER_MODEL=str(broken)), ["code: print(1)", "hello sel", "/status"])
    assert lines[0].startswith(f"sel: SEL_CODER_MODEL={broken}: llama.cpp could not load it"), lines[0]
    assert lines[1].strip() and not lines[1].startswith("sel:"), "the general model still answers"
    assert after(lines, "last reply:").startswith("last reply: general slot")
