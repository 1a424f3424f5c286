"""ARM's per-subscription token buckets (reads and writes). They refill in real time, never scaled."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BucketConfig:
    """Size and refill rate of one kind of bucket."""

    burst: float
    per_second: float


@dataclass
class TokenBucket:
    """Tokens refilled continuously up to ``burst``."""

    config: BucketConfig
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        """Add what the elapsed time earned."""
        self.tokens = min(self.config.burst, self.tokens + (now - self.stamp) * self.config.per_second)
        self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def retry_after(self) -> int:
        """Whole seconds until a token is back (at least 1)."""
        if self.config.per_second <= 0:
            return 60
        return max(1, math.ceil((1.0 - self.tokens) / self.config.per_second))


@dataclass
class Throttle:
    """Per-subscription read and write buckets; on by default with ARM's documented sizes."""

    clock: Callable[[], float] = time.monotonic
    enabled: bool = True
    reads: BucketConfig = field(default_factory=lambda: BucketConfig(250, 25))
    writes: BucketConfig = field(default_factory=lambda: BucketConfig(200, 10))
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)

    def _bucket(self, subscription: str, kind: str) -> TokenBucket:
        key = (subscription.lower(), kind)
        if key not in self.buckets:
            config = self.reads if kind == "reads" else self.writes
            self.buckets[key] = TokenBucket(config, config.burst, self.clock())
        return self.buckets[key]

    def take(self, subscription: str, kind: str) -> tuple[bool, int]:
        """Spend a token: (allowed, Retry-After seconds when not)."""
        bucket = self._bucket(subscription, kind)
        if not self.enabled:
            return True, 0
        if bucket.take(self.clock()):
            return True, 0
        return False, bucket.retry_after()

    def remaining(self, subscription: str, kind: str) -> int:
        """What the ``x-ms-ratelimit-remaining-subscription-*`` header says."""
        bucket = self._bucket(subscription, kind)
        bucket.refill(self.clock())
        return int(bucket.tokens)

    def configure(self, body: dict[str, Any]) -> None:
        """Apply ``{"enabled", "reads": {"burst", "per_second"}, "writes": {...}}`` (each part optional)."""
        if "enabled" in body:
            self.enabled = bool(body["enabled"])
        for kind in ("reads", "writes"):
            part = body.get(kind)
            if isinstance(part, dict):
                config = self.reads if kind == "reads" else self.writes
                config.burst = float(part.get("burst", config.burst))
                config.per_second = float(part.get("per_second", config.per_second))
                if "enabled" not in body:
                    self.enabled = True
        self.refill_all()

    def refill_all(self) -> None:
        """Start every bucket full again (new sizes apply)."""
        self.buckets.clear()

    def describe(self) -> dict[str, Any]:
        """The configuration as JSON."""
        return {
            "enabled": self.enabled,
            "reads": {"burst": self.reads.burst, "per_second": self.reads.per_second},
            "writes": {"burst": self.writes.burst, "per_second": self.writes.per_second},
        }
