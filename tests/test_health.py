"""`sel health` (Docker's HEALTHCHECK): healthy while the real bot runs against the stand-in, unhealthy when
the gateway stops acknowledging heartbeats or the engine stops producing tokens, and "not running" after a
clean stop. The stuck engine is the real one held back before its first token (tests/discord_fixtures.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sel.health import Heartbeat, engine_problem, gateway_problem, heartbeat_path, judge
from tests.cli_runner import run_sel
from tests.discord_fixtures import mention, replies_in, spy_on_engine


def sel_health(data_dir: Path) -> tuple[int, str]:
    done = run_sel("health", env={"SEL_DATA_DIR": str(data_dir)}, timeout=60)
    return done.returncode, done.stdout.strip()


async def health_of(data_dir: Path) -> tuple[int, str]:
    return await asyncio.to_thread(sel_health, data_dir)


# ---- the rules --------------------------------------------------------------------------------


def test_a_stale_or_missing_heartbeat_is_unhealthy_and_a_fresh_clean_one_is_healthy() -> None:
    assert judge(None, 100.0) is not None
    assert judge(Heartbeat(at=100.0, pid=1), now=130.0) is None
    assert "hung" in (judge(Heartbeat(at=100.0, pid=1), now=161.0) or "")
    assert judge(Heartbeat(at=100.0, pid=1, engine_trouble="stuck"), now=101.0) == "stuck"


def test_the_gateway_is_stuck_after_three_unacknowledged_heartbeats() -> None:
    assert gateway_problem(ready=True, closed=False, ack_age=100.0, interval=41.25) is None
    assert gateway_problem(ready=True, closed=False, ack_age=130.0, interval=41.25) is not None
    assert gateway_problem(ready=True, closed=False, ack_age=None, interval=None) is None  # connecting
    assert gateway_problem(ready=False, closed=False, ack_age=None, interval=None) is not None
    assert gateway_problem(ready=True, closed=True, ack_age=1.0, interval=41.25) is not None
    assert engine_problem(299.0) is None and engine_problem(301.0) is not None


# ---- the real bot -------------------------------------------------------------------------------


async def test_healthy_while_running_and_not_running_after_a_clean_stop(sel_env, standin, tmp_path) -> None:
    bot = await sel_env()
    data = tmp_path / "data"
    # The watch beats once as soon as the bot is set up, then every BEAT_SECONDS.
    await standin.wait_for(lambda: heartbeat_path(data).exists(), 10, what="the first heartbeat")
    code, line = await health_of(data)
    assert (code, line) == (0, "healthy: connected to Discord, engine answering"), line

    await bot.close()
    assert not heartbeat_path(data).exists(), "a clean stop removes the heartbeat"
    code, line = await health_of(data)
    assert code == 1 and "not running" in line, line


async def test_unhealthy_when_discord_stops_acknowledging_gateway_heartbeats(sel_env, standin, tmp_path) -> None:
    standin.gateway.heartbeat_interval_ms = 200  # discord.py heartbeats every 0.2 s from HELLO on
    bot = await sel_env()

    def heartbeats() -> int:
        return sum(1 for f in standin.gateway_log if f.direction == "in" and f.op == 1)

    await standin.wait_for(lambda: heartbeats() >= 2, 10, what="two gateway heartbeats")
    assert (await bot.watch.beat()).gateway_trouble is None
    standin.gateway.ack_heartbeats = False
    sent = heartbeats()
    await standin.wait_for(lambda: heartbeats() >= sent + 5, 10, what="five unacknowledged heartbeats")

    beat = await bot.watch.beat()
    assert beat.gateway_trouble is not None and "heartbeat" in beat.gateway_trouble, beat
    code, line = await health_of(tmp_path / "data")
    assert code == 1 and "gateway heartbeat" in line, line


async def test_unhealthy_while_the_engine_is_stuck_and_healthy_once_it_answers(sel_env, standin, tmp_path) -> None:
    bot = await sel_env()
    spy = spy_on_engine(bot)
    bot.watch.stall_after = 0.5
    spy.hold()  # the generation never produces its first token until released
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} are you there?")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start generating")
    progress = bot.conversation.responder.progress
    await standin.wait_for(lambda: progress.stalled_for() > 0.6, 10, what="the reply to wait past the limit")

    beat = await bot.watch.beat()
    assert beat.engine_trouble is not None and "engine is stuck" in beat.engine_trouble, beat
    code, line = await health_of(tmp_path / "data")
    assert code == 1 and "engine is stuck" in line, line

    spy.release()
    await replies_in(standin, standin.general.id)
    await standin.wait_for(lambda: progress.in_flight == 0, 10, what="the reply to end")
    assert (await bot.watch.beat()).engine_trouble is None
    assert (await health_of(tmp_path / "data"))[0] == 0


def test_the_image_runs_sel_health_as_its_healthcheck() -> None:
    dockerfile = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()
    sel_stage = dockerfile[dockerfile.index("AS sel") :]
    assert 'HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 CMD ["sel", "health"]' in sel_stage
