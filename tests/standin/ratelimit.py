"""Discord-style rate-limit buckets: X-RateLimit-* headers on every response, 429s on overflow.

Discord does not document per-route numbers; the defaults follow community observations
(about 5 message creates and 5 edits per 5 s per channel) and every test can change them.
Pure rules: the caller passes ``now``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BucketRule:
    """`limit` requests per `per` seconds for one bucket and one major parameter (channel, webhook...).

    With ``announced=False`` the rule is a hidden sub-limit: headers advertise a roomy bucket,
    so discord.py cannot throttle itself and an overflow comes back as a real 429.
    """

    limit: int
    per: float
    announced: bool = True


@dataclass(frozen=True)
class RateLimitPolicy:
    message_create: BucketRule | None = BucketRule(5, 5.0)
    message_edit: BucketRule | None = BucketRule(5, 5.0)
    default: BucketRule = BucketRule(50, 1.0)

    @classmethod
    def disabled(cls) -> RateLimitPolicy:
        """Headers are still sent, but no test-sized burst can ever overflow a bucket."""
        return cls(message_create=None, message_edit=None, default=BucketRule(1_000_000, 1.0))

    def rule_for(self, bucket: str) -> BucketRule:
        specific = {"message-create": self.message_create, "message-edit": self.message_edit}.get(bucket)
        return specific or self.default


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0


@dataclass
class _Window:
    remaining: int
    resets_at: float


@dataclass
class RateLimiter:
    policy: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def set_policy(self, policy: RateLimitPolicy) -> None:
        self.policy = policy
        self._windows.clear()

    def check(self, bucket: str, major: str, now: float) -> Verdict:
        """Count one request against (bucket, major) and say whether it may proceed."""
        rule = self.policy.rule_for(bucket)
        window = self._windows.get((bucket, major))
        if window is None or window.resets_at <= now:
            window = _Window(remaining=rule.limit, resets_at=now + rule.per)
            self._windows[(bucket, major)] = window
        if window.remaining <= 0:
            retry_after = round(window.resets_at - now, 3)
            headers = _headers(bucket, rule.limit, 0, window.resets_at, retry_after)
            headers["X-RateLimit-Scope"] = "user" if rule.announced else "shared"
            return Verdict(allowed=False, headers=headers, retry_after=max(retry_after, 0.001))
        window.remaining -= 1
        if rule.announced:
            return Verdict(
                True, _headers(bucket, rule.limit, window.remaining, window.resets_at, window.resets_at - now)
            )
        roomy = self.policy.default
        return Verdict(True, _headers(bucket, roomy.limit, roomy.limit - 1, now + roomy.per, roomy.per))


def _headers(bucket: str, limit: int, remaining: int, resets_at: float, reset_after: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{resets_at:.3f}",
        "X-RateLimit-Reset-After": f"{max(reset_after, 0.0):.3f}",
        "X-RateLimit-Bucket": bucket_hash(bucket),
    }


def bucket_hash(bucket: str) -> str:
    """An opaque, stable id per bucket, like Discord's."""
    return hashlib.sha1(bucket.encode()).hexdigest()[:16]


def too_many_requests_headers(retry_after: float, *, is_global: bool) -> dict[str, str]:
    """What every 429 needs so discord.py retries instead of assuming a Cloudflare ban."""
    headers = {"Via": "1.1 google", "Retry-After": str(math.ceil(retry_after))}
    if is_global:
        headers["X-RateLimit-Global"] = "true"
        headers["X-RateLimit-Scope"] = "global"
    return headers
