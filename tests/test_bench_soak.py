"""`sel bench soak`: a short soak end to end (SEL in its own process on a tiny GGUF, the stand-in here),
and the rules that turn its samples into figures and pass/fail targets."""

from __future__ import annotations

import os
from pathlib import Path

import discord
import pytest

from sel.cli.bench_soak import Pace, run_soak_bench, standin_checkout
from sel.cli.soak_figures import Sample, percentile, rss_growth_pct_per_hour, slope, targets, warm_up_end
from sel.cli.soak_load import Load
from sel.errors import SelError


def test_a_short_soak_answers_samples_and_judges_its_targets(make_settings, tiny_models, monkeypatch) -> None:
    # SEL's process takes its settings from the environment, as `sel run` does.
    for name in [n for n in os.environ if n.startswith("SEL_") or n == "DISCORD_TOKEN"]:
        monkeypatch.delenv(name)
    for name, value in {"SEL_MAX_NEW_TOKENS": "16", "SEL_CTX": "1024", "SEL_THREADS": "2", "SEL_SEED": "7"}.items():
        monkeypatch.setenv(name, value)
    pace = Pace(seconds=12, quiet_s=16, sample_every_s=1, drain_timeout_s=120)
    result = run_soak_bench(make_settings(), minutes=0, model=tiny_models.general, pace=pace)

    messages = result["messages"]
    assert sum(messages["sent"].values()) >= 11, messages
    assert {"mention", "reply", "slash", "prefix"} <= messages["sent"].keys(), messages
    answered = sum(messages["answered"].values())
    assert answered >= 3 and messages["answered"].get("slash") == 1, messages
    latency, commands = result["latency_s"], result["command_latency_s"]
    assert latency["count"] + commands["count"] == answered, (latency, commands)
    assert 0 < latency["p50"] <= latency["p99"] and commands["count"] >= 2, latency
    assert len(result["tasks"]) >= 8 and all(tasks > 0 for _, tasks in result["tasks"]), result["tasks"]
    assert all(fds > 0 for _, fds in result["fds"]) and all(mb > 0 for _, mb in result["rss_mb"])
    assert result["idle"]["after"] is not None, "the tiny model answers everything within the drain time"
    assert result["rate_limited_429"] == 0
    verdicts = result["targets"]
    for target in ("alive", "zero_429", "no_task_leak", "no_fd_leak", "clean_stop"):
        assert verdicts[target] == "pass", (verdicts, "\n".join(result.get("stop_log_tail", [])))
    assert verdicts["rss_growth"].startswith("not judged"), "twelve seconds say nothing about RSS per hour"
    assert result["warm_up_s"] is None and result["fewest_in_a_channel"], "twelve seconds fill no conversation"
    assert result["pass"] is True and result["model"] == tiny_models.general.name
    assert 0 < result["stop_s"] < 30, "SIGTERM to exit is timed"


def test_without_the_stand_in_the_bench_says_it_needs_a_source_checkout(tmp_path: Path) -> None:
    with pytest.raises(SelError, match="source checkout"):
        standin_checkout(tmp_path)


# ---- the figures --------------------------------------------------------------------------------


def sample(at: float, rss: float, fds: float = 10, tasks: float = 5) -> Sample:
    return Sample(at=at, rss_bytes=rss, fds=fds, tasks=tasks, queue_depth=0)


def test_percentiles_and_the_least_squares_slope() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 99) == 99.0
    assert slope([(0, 1), (1, 3), (2, 5)]) == 2.0
    assert slope([(1, 1), (1, 2)]) is None


def test_rss_growth_is_a_slope_after_warm_up_not_last_minus_first() -> None:
    # 100 MB growing 10 MB/h, with a spike at the very end that a last-minus-first figure would take as growth.
    # (Last minus first after warm-up would say 33 %/h.)
    samples = [sample(t, 100e6 + 10e6 * t / 3600) for t in range(0, 3600, 60)] + [sample(3600, 130e6)]
    growth, span = rss_growth_pct_per_hour(samples, warm_up_s=600)
    assert growth is not None and 9 < growth < 14 and span == 3000, growth
    flat = [sample(t, 100e6 + (1e6 if t % 120 else 0)) for t in range(0, 3600, 60)]
    assert abs(rss_growth_pct_per_hour(flat, warm_up_s=600)[0] or 0) < 1


def test_warm_up_lasts_until_every_conversation_is_full() -> None:
    # (seconds, messages in the emptiest channel): every channel holds SEL's history limit of 50 at 500 s.
    fill = [(t, t // 10) for t in range(0, 900, 5)]
    assert warm_up_end(900, fill, history_limit=50) == 500, "prompts grow until the channels hold 50 messages"
    assert warm_up_end(900, fill, history_limit=10) == 180, "however quickly they fill, 20 % of the run is warm-up"
    assert warm_up_end(3600, fill, history_limit=10) == 300, "and at most five minutes of a long run"
    assert warm_up_end(900, fill, history_limit=200) == float("inf"), "channels never full: the warm-up never ends"


async def test_the_soak_counts_the_messages_in_its_emptiest_channel(standin) -> None:
    load = Load(standin)
    load.build_world()
    async with standin.running(discord.Client(intents=discord.Intents.default(), **standin.client_options())):
        for channel in load.channels[:-1]:
            await standin.send_message(channel.id, standin.alice, "hello")
        assert load.fewest_in_a_channel() == 0, "one channel is still empty"
        await standin.send_message(load.channels[-1].id, standin.bob, "hello")
        assert load.fewest_in_a_channel() == 1


def test_targets_pass_fail_and_what_a_short_run_cannot_judge() -> None:
    idle = sample(0, 100e6)
    # Five descriptors opened for good by the first replies are a step, not a leak.
    stepped = sample(900, 100e6, fds=15)
    clean = targets(
        rss_pct_per_hour=1.0, span_s=1800, idle_before=idle, idle_after=stepped, warm_fds=15, rate_limited=0, alive=True
    )
    assert set(clean.values()) == {"pass"}, clean
    leaky = targets(
        rss_pct_per_hour=8.0,
        span_s=1800,
        idle_before=idle,
        idle_after=sample(900, 100e6, fds=30, tasks=40),
        warm_fds=15,
        rate_limited=2,
        alive=False,
    )
    assert all(verdict.startswith("fail") for verdict in leaky.values()), leaky
    short = targets(
        rss_pct_per_hour=50.0, span_s=48, idle_before=idle, idle_after=None, warm_fds=10, rate_limited=0, alive=True
    )
    assert short["rss_growth"].startswith("not judged") and short["no_task_leak"].startswith("not judged")


def test_ci_runs_a_one_minute_soak_after_the_tests() -> None:
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    soak = ".venv/bin/python -m sel bench soak --minutes 1 --json"
    assert soak in script and script.index("make test") < script.index(soak), "the soak runs after `make test`"


def test_a_failed_target_makes_the_command_exit_1_for_ci(monkeypatch, capsys) -> None:
    import sel.cli.bench_soak as bench_soak
    from sel.cli import main

    # The soak itself is tested above; here only how its verdict becomes the exit code.
    verdict = {"targets": {"zero_429": "fail: Discord answered 2 requests with 429"}, "pass": False}
    monkeypatch.setattr(bench_soak, "run_soak_bench", lambda settings, **kwargs: verdict)
    assert main(["bench", "soak", "--minutes", "1", "--json"]) == 1
    assert '"zero_429": "fail' in capsys.readouterr().out
    monkeypatch.setattr(bench_soak, "run_soak_bench", lambda settings, **kwargs: {**verdict, "pass": True})
    assert main(["bench", "soak", "--minutes", "1"]) == 0
