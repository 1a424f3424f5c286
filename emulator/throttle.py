"""ARM's per-subscription token buckets (reads and writes, per principal and the global 15x ones) and the
Storage resource provider's own limits on storage-account management calls. They refill in real time,
never scaled. Sources: "Understand how Azure Resource Manager throttles requests" (token buckets 250/25 s
reads, 200/10 s writes per principal; a global subscription limit 15 times that) and "Scalability targets
for the Azure Storage resource provider" (800 reads and 100 lists per 5 minutes)."""

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
    # Storage resource provider, per subscription (Azure: per subscription and region; one bucket for all
    # regions is never easier): storage-account lists and reads.
    storage_lists: BucketConfig = field(default_factory=lambda: BucketConfig(100, 100 / 300))
    storage_reads: BucketConfig = field(default_factory=lambda: BucketConfig(800, 800 / 300))
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)

    def _config(self, kind: str) -> BucketConfig:
        base = kind.removeprefix("global-")
        config = {"reads": self.reads, "writes": self.writes}.get(base) or (
            self.storage_lists if base == "storage-lists" else self.storage_reads
        )
        if kind.startswith("global-"):  # every principal's calls together: 15 times one principal's bucket
            return BucketConfig(config.burst * 15, config.per_second * 15)
        return config

    def _bucket(self, subscription: str, kind: str) -> TokenBucket:
        key = (subscription.lower(), kind)
        if key not in self.buckets:
            config = self._config(kind)
            self.buckets[key] = TokenBucket(config, config.burst, self.clock())
        return self.buckets[key]

    def take(self, subscription: str, kind: str) -> tuple[bool, int]:
        """Spend a token of the principal's and of the global bucket: (allowed, Retry-After seconds when not)."""
        if not self.enabled:
            return True, 0
        own, shared = self._bucket(subscription, kind), self._bucket(subscription, f"global-{kind}")
        now = self.clock()  # after creating the buckets: a bucket stamped later than ``now`` would lose tokens
        own.refill(now)
        shared.refill(now)
        if own.tokens >= 1.0 and shared.tokens >= 1.0:
            own.tokens -= 1.0
            shared.tokens -= 1.0
            return True, 0
        return False, max(
            own.retry_after() if own.tokens < 1.0 else 0, shared.retry_after() if shared.tokens < 1.0 else 0
        )

    def take_storage(self, subscription: str, kind: str) -> tuple[bool, int]:
        """The Storage provider's own limit (``storage-lists`` or ``storage-reads``), after ARM's."""
        if not self.enabled:
            return True, 0
        bucket = self._bucket(subscription, kind)
        if bucket.take(self.clock()):
            return True, 0
        return False, bucket.retry_after()

    def remaining(self, subscription: str, kind: str) -> int:
        """What the ``x-ms-ratelimit-remaining-subscription-*`` header says."""
        bucket = self._bucket(subscription, kind)
        bucket.refill(self.clock())
        return int(bucket.tokens)

    def configure(self, body: dict[str, Any]) -> None:
        """Apply ``{"enabled", "reads": {"burst", "per_second"}, "writes": {...}, "storage_lists": {...},
        "storage_reads": {...}}`` (each part optional)."""
        if "enabled" in body:
            self.enabled = bool(body["enabled"])
        for kind in ("reads", "writes", "storage_lists", "storage_reads"):
            part = body.get(kind)
            if isinstance(part, dict):
                config = getattr(self, kind)
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
            "storage_lists": {"burst": self.storage_lists.burst, "per_second": self.storage_lists.per_second},
            "storage_reads": {"burst": self.storage_reads.burst, "per_second": self.storage_reads.per_second},
        }
