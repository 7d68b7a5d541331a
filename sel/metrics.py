"""SEL's figures for Prometheus, served on SEL_METRICS_PORT (prometheus-client, imported only then).

One :class:`Metrics` per running SEL. Its recording methods cost nothing while it is not serving, so
the frontends call them unconditionally. Besides SEL's own figures, the page carries the standard
process figures (resident memory, open file descriptors, CPU) from prometheus-client's collector.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sel.errors import ConfigError

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram
    from prometheus_client.registry import CollectorRegistry

log = logging.getLogger(__name__)

# Message sent -> reply complete, in seconds: from a fast GPU reply to a queue on a small CPU.
REPLY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class _Instruments:
    reply_seconds: Histogram
    replies: Counter
    tokens_per_second: Gauge
    queue_depth: Gauge
    rate_limited: Counter
    cancelled: Counter
    memories: Gauge
    tasks: Gauge
    kv_snapshot_bytes: Gauge


class Metrics:
    """SEL's counters and gauges; no-ops until :meth:`serve` starts the HTTP endpoint."""

    def __init__(self) -> None:
        self._on: _Instruments | None = None
        self._server: Any = None  # the http.server that start_http_server returns

    @property
    def serving(self) -> bool:
        return self._on is not None

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics on ``host:port`` from a background thread (a port in use is a ConfigError)."""
        from prometheus_client import ProcessCollector, start_http_server
        from prometheus_client.registry import CollectorRegistry

        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        instruments = _instruments(registry)
        try:
            self._server, _ = start_http_server(port, addr=host, registry=registry)
        except OSError as err:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port} ({err.strerror or err}); "
                "pick a free port for SEL_METRICS_PORT in .env, or unset it"
            ) from None
        self._on = instruments
        log.info("metrics on http://%s:%s/metrics", host, port)

    def close(self) -> None:
        """Stop serving (the port is free again)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._on = None

    # -- recording (called by the frontends) -------------------------------------------------------

    def reply_finished(self, seconds: float, tokens_per_second: float) -> None:
        """A reply is complete, ``seconds`` after its message was sent."""
        if self._on is not None:
            self._on.reply_seconds.observe(max(seconds, 0.0))
            self._on.replies.inc()
            if tokens_per_second > 0:
                self._on.tokens_per_second.set(tokens_per_second)

    def generation_cancelled(self) -> None:
        if self._on is not None:
            self._on.cancelled.inc()

    def rate_limited(self) -> None:
        """Discord answered a request with 429."""
        if self._on is not None:
            self._on.rate_limited.inc()

    def sampled(
        self, *, tasks: int, queue_depth: int, memories: int | None, kv_snapshot_bytes: float | None = None
    ) -> None:
        """The periodic sample: asyncio tasks, replies running or waiting, memories stored, KV snapshots held."""
        if self._on is not None:
            self._on.tasks.set(tasks)
            self._on.queue_depth.set(queue_depth)
            if memories is not None:
                self._on.memories.set(memories)
            if kv_snapshot_bytes is not None:
                self._on.kv_snapshot_bytes.set(kv_snapshot_bytes)


def _instruments(registry: CollectorRegistry) -> _Instruments:
    from prometheus_client import Counter, Gauge, Histogram

    return _Instruments(
        reply_seconds=Histogram(
            "sel_reply_seconds",
            "Seconds from a message being sent to SEL's reply being complete",
            buckets=REPLY_BUCKETS,
            registry=registry,
        ),
        replies=Counter("sel_replies", "Replies SEL finished", registry=registry),
        tokens_per_second=Gauge("sel_tokens_per_second", "Decoding speed of the latest reply", registry=registry),
        queue_depth=Gauge("sel_queue_depth", "Replies running or waiting, over all channels", registry=registry),
        rate_limited=Counter("sel_discord_rate_limited", "Discord requests answered with 429", registry=registry),
        cancelled=Counter("sel_generations_cancelled", "Replies cut off while generating", registry=registry),
        memories=Gauge("sel_memories", "Memories stored", registry=registry),
        tasks=Gauge("sel_asyncio_tasks", "asyncio tasks alive in SEL's event loop", registry=registry),
        # The largest part of SEL's resident memory that grows with conversations (bounded by SEL_KV_CACHE_MB).
        kv_snapshot_bytes=Gauge(
            "sel_kv_snapshot_bytes", "Bytes of conversations' KV cache snapshots held in memory", registry=registry
        ),
    )
