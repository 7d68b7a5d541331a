"""`sel bench soak --minutes N`: SEL under steady load for N minutes, against the loopback Discord stand-in.

SEL runs in its own process as `sel run` would (sel/cli/soak_sel.py), with its metrics endpoint on;
this process hosts the stand-in and the load (soak_load.py) and samples SEL's resident memory, open
file descriptors, asyncio tasks and queue from that endpoint every few seconds. At the end SEL gets
time to finish what it is answering, then one more look at it idle, and the figures and targets
(soak_figures.py). The stand-in lives in tests/standin, so this needs a source checkout.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sel.cli.soak_figures import (
    Sample,
    latency_figures,
    passed,
    rss_growth_pct_per_hour,
    series,
    targets,
    warm_up_end,
)
from sel.cli.soak_load import CHANNELS, Load
from sel.config import Settings
from sel.errors import SelError

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 600.0  # loading and warming the model on a slow machine
STOP_TIMEOUT_S = 30.0  # SIGTERM to exit: SEL closes its replies and saves its state


def run_soak_bench(
    settings: Settings, *, minutes: float, model: Path | None = None, pace: Pace | None = None
) -> dict[str, Any]:
    """Drive SEL for ``minutes`` and return the figures, each target's verdict and "pass"."""
    standin_checkout(REPO)
    return asyncio.run(_soak(settings, pace or Pace(minutes * 60), model))


def standin_checkout(repo: Path) -> None:
    """Make tests/standin importable, or say in one line why the bench cannot run here."""
    if not (repo / "tests" / "standin" / "server.py").is_file():
        raise SelError(
            "`sel bench soak` drives the Discord stand-in in tests/standin, which only a source checkout "
            "of SEL has; run it from a git clone (`git clone` SEL, then `make bench` or `sel bench soak` there)"
        )
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))


async def _soak(settings: Settings, pace: Pace, model: Path | None) -> dict[str, Any]:
    standin = importlib.import_module("tests.standin").DiscordStandin()
    await standin.start()
    try:
        load = Load(standin)
        load.build_world()
        with tempfile.TemporaryDirectory(prefix="sel-soak-") as tmp:
            async with _sel_process(standin, Path(tmp), model) as sel:
                result = await Run(standin, load, sel, pace, settings.discord.history_limit).drive()
            result["model"] = (model or settings.general_model).name
            # SIGTERM, as `docker stop` and systemd send: SEL closes its replies, saves its state and exits 0
            stopped = sel.process.returncode
            result["stop_s"] = None if sel.stop_seconds is None else round(sel.stop_seconds, 2)
            result["targets"]["clean_stop"] = "pass" if stopped == 0 else f"fail: SEL exited {stopped} when stopped"
            if stopped != 0:
                result["stop_log_tail"] = sel.log_tail(40).splitlines()  # the log itself goes with tmp
            result["pass"] = passed(result["targets"])
            return result
    finally:
        await standin.stop()


class SelProcess:
    """The SEL under test: its process, metrics port and log."""

    def __init__(self, process: asyncio.subprocess.Process, metrics_port: int, log: Path) -> None:
        self.process = process
        self.metrics_port = metrics_port
        self.log = log
        self.stop_seconds: float | None = None  # from SIGTERM to exit

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_tail_line(self) -> str:
        """The end of SEL's log as one line, for an error message."""
        return " | ".join(self.log_tail().splitlines())

    async def scrape(self) -> dict[str, float]:
        """SEL's /metrics page, sample name -> value (None of SEL's own figures carry labels)."""
        import aiohttp
        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
        return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}

    async def sample(self, at: float) -> Sample:
        page = await self.scrape()
        return Sample(
            at=at,
            rss_bytes=page.get("process_resident_memory_bytes", 0.0),
            fds=page.get("process_open_fds", 0.0),
            tasks=page.get("sel_asyncio_tasks", 0.0),
            queue_depth=page.get("sel_queue_depth", 0.0),
        )


@asynccontextmanager
async def _sel_process(standin: Any, tmp: Path, model: Path | None) -> AsyncIterator[SelProcess]:
    """Start SEL (its settings from the environment and .env, as `sel run`; a fresh data folder; metrics on),
    wait for its "ready" line, and stop it with SIGTERM at the end."""
    ca = tmp / "standin-ca.pem"
    importlib.import_module("tests.standin.tls").test_ca().cert_pem.write_to_path(str(ca))
    port = _free_port()
    env = {**os.environ, "DISCORD_TOKEN": standin.token, "SEL_DATA_DIR": str(tmp / "data")}
    env |= {"SEL_METRICS_PORT": str(port), "SEL_METRICS_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    env |= {"SEL_GENERAL_MODEL": str(model), "SEL_CODER_MODEL": str(model)} if model else {}
    out, log = tmp / "sel.out", tmp / "sel.log"
    with out.open("wb") as stdout, log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sel.cli.soak_sel", str(standin.port), str(ca), env=env, stdout=stdout, stderr=stderr
        )
    sel = SelProcess(process, port, log)
    try:
        await _until_ready(sel, out)
        yield sel
    finally:
        await _stop(sel)


async def _until_ready(sel: SelProcess, out: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while "SEL is ready" not in out.read_text(encoding="utf-8", errors="replace"):
        if sel.process.returncode is not None:
            raise SelError(f"SEL stopped before it was ready (exit {sel.process.returncode}): {sel.log_tail_line()}")
        if loop.time() > deadline:
            raise SelError(f"SEL was not ready after {READY_TIMEOUT_S:.0f} s: {sel.log_tail_line()}")
        await asyncio.sleep(0.2)


async def _stop(sel: SelProcess) -> None:
    """SIGTERM, as `docker stop` and systemd send (not SIGINT: a shell running the bench in the background
    starts its children with SIGINT ignored); a SEL still running after STOP_TIMEOUT_S is sent SIGABRT,
    then killed."""
    process = sel.process
    if process.returncode is not None:
        return
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.send_signal(signal.SIGABRT)  # its stacks go to the log (faulthandler), for the report
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
    sel.stop_seconds = time.monotonic() - started


@dataclass(frozen=True)
class Pace:
    """How long the load runs, how long SEL must be quiet to count as idle, how often it is sampled."""

    seconds: float
    # Longer than SEL's watch beat (10 s, so the task count is fresh) and aiohttp's keep-alive
    # (15 s, so pooled connections to Discord have closed): then SEL is truly idle.
    quiet_s: float = 20.0
    sample_every_s: float = 5.0
    drain_timeout_s: float = 600.0  # after the load: time SEL gets to answer what is still queued


class Run:
    """One soak: idle look, load, drain, idle look; then the report."""

    def __init__(self, standin: Any, load: Load, sel: SelProcess, pace: Pace, history_limit: int) -> None:
        self.standin, self.load, self.sel, self.pace = standin, load, sel, pace
        self.history_limit = history_limit  # SEL's per-conversation history: full channels end the warm-up
        self.samples: list[Sample] = []
        self.fill: list[tuple[float, int]] = []  # (seconds, messages in the emptiest channel)
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()

    def _now(self) -> float:
        return self._loop.time() - self._start

    async def drive(self) -> dict[str, Any]:
        await asyncio.sleep(self.pace.quiet_s)  # SEL settles after start-up
        self._start = self._loop.time()  # the load starts now: sample times count from here
        before = await self._sample()
        await self._load()
        after = await self._drain()
        return self._report(before, after)

    async def _load(self) -> None:
        sent = 0
        while (now := self._now()) < self.pace.seconds and self.sel.process.returncode is None:
            if sent <= now:  # one message a second, on schedule
                await self.load.send_next(self.standin.world.bot.id)
                sent += 1
            await self._sample_if_due()
            self.load.check_answers()
            await asyncio.sleep(0.2)

    async def _drain(self) -> Sample | None:
        """Let SEL finish answering; its idle sample, or None if it was still busy at the deadline."""
        router = self.standin.router
        deadline = self._loop.time() + self.pace.drain_timeout_s
        while self.sel.process.returncode is None and self._loop.time() < deadline:
            self.load.check_answers()
            await self._sample_if_due()
            if router.inflight == 0 and self._loop.time() - router.last_request >= self.pace.quiet_s:
                return await self._sample()
            await asyncio.sleep(0.5)
        return None

    async def _sample_if_due(self) -> None:
        if not self.samples or self._now() >= self.samples[-1].at + self.pace.sample_every_s:
            await self._sample()

    async def _sample(self) -> Sample:
        sample = await self.sel.sample(self._now())
        self.samples.append(sample)
        self.fill.append((sample.at, self.load.fewest_in_a_channel()))
        return sample

    def _report(self, before: Sample, after: Sample | None) -> dict[str, Any]:
        seconds = self.pace.seconds
        under_load = [s for s in self.samples if 0 <= s.at <= seconds]
        warm_up = warm_up_end(seconds, [f for f in self.fill if f[0] <= seconds], self.history_limit)
        growth, span = rss_growth_pct_per_hour(under_load, warm_up_s=warm_up)
        rate_limited = len(self.standin.ratelimited)
        verdicts = targets(
            rss_pct_per_hour=growth,
            span_s=span,
            idle_before=before,
            idle_after=after,
            # descriptors open for good with the first replies: the short warm-up, not the conversations' fill
            warm_fds=max((s.fds for s in under_load if s.at <= min(300.0, 0.2 * seconds)), default=before.fds),
            rate_limited=rate_limited,
            alive=self.sel.process.returncode is None,
        )
        return {
            "minutes": round(seconds / 60, 2),
            "channels": CHANNELS,
            "messages": self.load.summary(),
            "latency_s": latency_figures(self.load.latencies(("mention", "reply"))),
            "command_latency_s": latency_figures(self.load.latencies(("prefix", "slash"))),
            "rss_growth_pct_per_hour": None if growth is None else round(growth, 2),
            "warm_up_s": None if math.isinf(warm_up) else round(warm_up, 1),
            "fewest_in_a_channel": [[round(at, 1), fewest] for at, fewest in self.fill],
            "rss_mb": [[at, round(v / 2**20, 1)] for at, v in series(self.samples, "rss_bytes")],
            "fds": series(self.samples, "fds"),
            "tasks": series(self.samples, "tasks"),
            "queue_depth": series(self.samples, "queue_depth"),
            "idle": {"before": _idle(before), "after": None if after is None else _idle(after)},
            "rate_limited_429": rate_limited,
            "targets": verdicts,
            "pass": passed(verdicts),
        }


def _idle(sample: Sample) -> dict[str, float]:
    return {"tasks": sample.tasks, "fds": sample.fds, "rss_mb": round(sample.rss_bytes / 2**20, 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
