"""The soak bench's figures and targets, as pure functions of what it measured (see bench_soak.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RSS_TARGET_PCT_PER_HOUR = 5.0
RSS_MIN_SPAN_S = 600.0  # a slope over less than ten minutes says nothing about hours: not judged
WARM_UP_S = 300.0  # at least this much of a long run (20 % of a shorter one) is warm-up
TASK_SLACK = 3  # tasks an idle SEL may legitimately hold more after load (e.g. a retiring timer)
FD_SLACK = 4  # descriptors likewise (idle pooled connections close after aiohttp's 15 s keep-alive)


@dataclass(frozen=True)
class Sample:
    """One look at the SEL process, ``at`` seconds after the load started (negative: before it)."""

    at: float
    rss_bytes: float
    fds: float
    tasks: float
    queue_depth: float


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) by linear interpolation, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (x, y) points; None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den


def warm_up_end(seconds: float, fill: Sequence[tuple[float, int]], history_limit: int) -> float:
    """When the warm-up ends, in seconds after the load started (inf: it never did).

    ``fill`` is (seconds, messages in the emptiest channel) over the run. Until every channel holds
    ``history_limit`` messages (SEL_HISTORY_LIMIT, the most SEL's history keeps per conversation),
    each prompt is longer than the last, and what is sized by prompts grows with them by design:
    the KV snapshots of the ten conversations (bounded by SEL_KV_CACHE_MB) and the part of
    llama.cpp's context that has been written to (bounded by SEL_CTX). So the warm-up lasts until
    then, and at least 20 % of the run (at most 5 minutes), as before.
    """
    full = next((at for at, fewest in fill if fewest >= history_limit), math.inf)
    return max(min(WARM_UP_S, 0.2 * seconds), full)


def rss_growth_pct_per_hour(samples: Sequence[Sample], warm_up_s: float) -> tuple[float | None, float]:
    """RSS growth per hour after warm-up, in percent of the fitted RSS at warm-up's end; and the span fitted.

    A fitted slope, not last minus first: one garbage-collection pause or cache fill at either end
    would otherwise decide the figure.
    """
    after = [(s.at, s.rss_bytes) for s in samples if s.at >= warm_up_s]
    fitted = slope(after)
    if fitted is None:
        return None, 0.0
    mean_x = sum(x for x, _ in after) / len(after)
    mean_y = sum(y for _, y in after) / len(after)
    base = mean_y + fitted * (warm_up_s - mean_x)
    span = after[-1][0] - after[0][0]
    return (fitted * 3600 / base * 100 if base > 0 else None), span


def targets(
    *,
    rss_pct_per_hour: float | None,
    span_s: float,
    idle_before: Sample,
    idle_after: Sample | None,
    warm_fds: float,
    rate_limited: int,
    alive: bool,
) -> dict[str, str]:
    """Each target as "pass", "fail: why" or "not judged: why".

    Tasks are compared idle to idle. Descriptors are compared with the most open during warm-up as
    well: the first replies open files for good (the embedding model, the memory journal), which is a
    step, not a leak; a leak keeps growing after warm-up.
    """
    out = {"alive": "pass" if alive else "fail: SEL's process exited during the soak"}
    out["zero_429"] = "pass" if rate_limited == 0 else f"fail: Discord answered {rate_limited} requests with 429"
    if idle_after is None:
        why = "not judged: SEL was still answering when the drain time ran out"
        out["no_task_leak"] = out["no_fd_leak"] = why
    else:
        extra_tasks = idle_after.tasks - idle_before.tasks
        out["no_task_leak"] = "pass" if extra_tasks <= TASK_SLACK else f"fail: {extra_tasks:.0f} more tasks when idle"
        extra_fds = idle_after.fds - max(idle_before.fds, warm_fds)
        out["no_fd_leak"] = "pass" if extra_fds <= FD_SLACK else f"fail: {extra_fds:.0f} more fds open when idle"
    if span_s < RSS_MIN_SPAN_S or rss_pct_per_hour is None:
        out["rss_growth"] = f"not judged: {span_s / 60:.1f} min after warm-up (needs {RSS_MIN_SPAN_S / 60:.0f})"
    elif rss_pct_per_hour <= RSS_TARGET_PCT_PER_HOUR:
        out["rss_growth"] = "pass"
    else:
        out["rss_growth"] = f"fail: {rss_pct_per_hour:.1f} %/h > {RSS_TARGET_PCT_PER_HOUR} %/h"
    return out


def passed(results: dict[str, str]) -> bool:
    return not any(verdict.startswith("fail") for verdict in results.values())


def series(samples: Sequence[Sample], field: str) -> list[list[float]]:
    """[[seconds, value], ...] for the JSON report."""
    return [[round(s.at, 1), float(getattr(s, field))] for s in samples]


def latency_figures(latencies: Sequence[float]) -> dict[str, Any]:
    return {f"p{p}": _round(percentile(latencies, p)) for p in (50, 95, 99)} | {"count": len(latencies)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
