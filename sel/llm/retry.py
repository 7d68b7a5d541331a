"""How long to wait before asking a model server again: a pure function of the attempt and the server's hint.

A server that is busy (429, 503 — llama-server answers 503 while it loads a model) may say when to
come back in a ``Retry-After`` header, as seconds or as an HTTP date; SEL waits that long, never more
than :data:`MAX_WAIT`. Without a hint, the wait doubles with every attempt and is jittered so that
several conversations do not all come back at the same instant.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

BASE_WAIT = 0.5  # seconds before the first retry, without a hint
MAX_WAIT = 30.0  # no wait is longer than this, whatever the server says
RETRIES = 3  # attempts after the first


def retry_delay(attempt: int, retry_after: str | None, rng: random.Random, *, now: float = 0.0) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    ``retry_after`` is the server's Retry-After header (or None); ``now`` is the current Unix time,
    needed only when the header is an HTTP date. The server's hint wins when it parses; otherwise
    the wait is ``BASE_WAIT * 2**attempt``, jittered to between half and all of it.
    """
    hinted = parse_retry_after(retry_after, now)
    if hinted is not None:
        return min(hinted, MAX_WAIT)
    backoff = min(BASE_WAIT * 2**attempt, MAX_WAIT)
    return backoff * (0.5 + rng.random() / 2)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """A Retry-After header in seconds from ``now``, or None when it is missing or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        return None
    return max(0.0, when.timestamp() - now)
