"""The Prometheus endpoint (SEL_METRICS_PORT), scraped over HTTP while the real bot answers in the stand-in."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sel.errors import ConfigError
from sel.frontends.discord.bot import serve
from sel.metrics import Metrics
from tests.discord_fixtures import mention, replies_in, spy_on_engine
from tests.model_server import free_port


def scrape(port: int) -> dict[str, float]:
    """Every sample on the page by name (labels dropped: SEL's own figures have none)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


async def scraped(port: int) -> dict[str, float]:
    return await asyncio.to_thread(scrape, port)


async def test_replies_latency_speed_429s_and_process_figures_are_counted(sel_env, standin) -> None:
    bot = await sel_env()
    port = free_port()
    bot.app.metrics.serve("127.0.0.1", port)
    standin.inject_error("POST", "/channels/*/messages", 429, times=1)  # discord.py waits and retries
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hello there")
    await replies_in(standin, standin.general.id)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 10, what="the reply to end")
    await bot.watch.beat()

    page = await scraped(port)
    assert page["sel_replies_total"] == 1, page
    assert page["sel_reply_seconds_count"] == 1 and page["sel_reply_seconds_sum"] > 0, page
    assert page["sel_discord_rate_limited_total"] == 1, "the 429 on the reply's first post"
    assert page["sel_tokens_per_second"] > 0
    assert page["sel_asyncio_tasks"] > 0
    assert page["sel_queue_depth"] == 0
    assert page["sel_memories"] >= 0
    assert page["process_open_fds"] > 0 and page["process_resident_memory_bytes"] > 0


async def test_queue_depth_and_cancelled_generations(sel_env, standin) -> None:
    bot = await sel_env()
    port = free_port()
    bot.app.metrics.serve("127.0.0.1", port)
    spy = spy_on_engine(bot)
    spy.hold()
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} one")
    await standin.wait_for(lambda: spy.generations, 10, what="SEL to start generating")
    await standin.send_message(standin.general.id, standin.bob, f"{mention(bot)} two")
    await standin.wait_for(lambda: bot.conversation.lanes.pending, 10, what="bob's message to wait")
    await bot.watch.beat()
    assert (await scraped(port))["sel_queue_depth"] == 2, "one reply running, one waiting"

    await bot.conversation.lanes.cancel_all()  # what a shutdown does to replies in progress
    assert (await scraped(port))["sel_generations_cancelled_total"] == 1


async def test_serve_starts_the_endpoint_on_localhost_when_sel_metrics_port_is_set(standin, make_settings) -> None:
    port = free_port()
    settings = make_settings(DISCORD_TOKEN=standin.token, SEL_METRICS_PORT=str(port))
    assert settings.metrics_host == "127.0.0.1"
    running = asyncio.create_task(serve(settings, **standin.client_options()))
    try:
        await standin.wait_for(lambda: standin.gateway.current is not None, 60, what="SEL to connect")
        await standin.idle()
        assert "process_open_fds" in await scraped(port)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    with pytest.raises(OSError):  # the App closed the endpoint with itself
        await scraped(port)


def test_recording_costs_nothing_until_served_and_a_busy_port_is_one_line() -> None:
    metrics = Metrics()
    metrics.reply_finished(1.0, 10.0)  # not serving: a no-op, no prometheus objects
    assert not metrics.serving
    port = free_port()
    metrics.serve("127.0.0.1", port)
    try:
        with pytest.raises(ConfigError, match="SEL_METRICS_PORT"):
            Metrics().serve("127.0.0.1", port)
    finally:
        metrics.close()


async def test_kv_snapshots_held_are_a_gauge(sel_env, standin) -> None:
    """The KV snapshots are the part of SEL's memory that grows with conversations: owners can watch it."""
    bot = await sel_env(SEL_KV_CACHE_MB="64")
    port = free_port()
    bot.app.metrics.serve("127.0.0.1", port)
    for channel in (standin.general, standin.random):  # the second conversation parks the first one's KV cache
        await standin.send_message(channel.id, standin.alice, f"{mention(bot)} hello there, how are you?")
        await replies_in(standin, channel.id)
        await standin.wait_for(lambda: not bot.conversation.lanes.running, 30, what="the reply to end")
    held_mb = bot.app.engine.status()["kv_snapshot_mb"]
    assert held_mb > 0, "the first conversation's KV cache was snapshotted when the second one started"
    bot.watch.beats = 0  # the next beat samples the slower figures
    await bot.watch.beat()
    page = await scraped(port)
    assert page["sel_kv_snapshot_bytes"] == pytest.approx(held_mb * 1e6)
