"""Per-principal request limit over a moving window, on the ``limits`` library. The count lives in
``memory://`` (per process) or Redis (shared by every API process).

Fails open: when the storage errors (Redis down), requests are let through uncounted and a warning
is logged; for ``fail_open_seconds`` afterwards the storage is not asked at all, so an outage neither
locks everybody out nor adds a timeout to every request nor floods the log.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.settings import RateLimitConfig

log = logging.getLogger(__name__)

_NAMESPACE = "reprotect-principal"


@dataclass(frozen=True)
class Decision:
    """The verdict on one request, with what ``RateLimit-*``/``Retry-After`` headers need.

    ``degraded`` is True when the storage failed and the request was let through uncounted.
    """

    allowed: bool
    retry_after_seconds: int
    limit: int
    remaining: int
    degraded: bool = False


class RateLimiter:
    """Counts requests per principal id (or, given ``limit`` and ``namespace``, per anything else such as a
    client address) against one configured limit."""

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        limit: str | None = None,
        namespace: str = _NAMESPACE,
    ):
        self._config = config
        self._item = parse(limit or config.limit)
        self._namespace = namespace
        self._clock = clock
        self._limiter = MovingWindowRateLimiter(_storage(config))
        self._bypass_until = -math.inf

    @property
    def in_memory(self) -> bool:
        """Whether counting needs no I/O (``memory://``: per process)."""
        return self._config.storage_uri.startswith("memory://")

    @property
    def limit(self) -> int:
        """Requests allowed per window."""
        return self._item.amount

    def hit(self, principal_id: str) -> Decision:
        """Count one request by ``principal_id`` and say whether it may proceed."""
        if not self._config.enabled or self._clock() < self._bypass_until:
            return self._pass(degraded=self._config.enabled)
        try:
            allowed = self._limiter.hit(self._item, self._namespace, principal_id)
            stats = self._limiter.get_window_stats(self._item, self._namespace, principal_id)
        except StorageError as exc:
            self._bypass_until = self._clock() + self._config.fail_open_seconds
            log.warning(
                "Rate limit storage failed (%s); letting requests through for %.0f s",
                exc,
                self._config.fail_open_seconds,
            )
            return self._pass(degraded=True)
        # In a moving window the oldest counted request expires first: that is when a slot frees up.
        retry_after = 0 if allowed else max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, retry_after, self.limit, max(0, stats.remaining))

    def _pass(self, *, degraded: bool) -> Decision:
        return Decision(True, 0, self.limit, self.limit, degraded=degraded)


def _storage(config: RateLimitConfig) -> Storage:
    options: dict[str, float | str | bool] = {}
    if config.storage_uri.startswith(("redis", "rediss", "valkey")):
        options = {
            "socket_timeout": config.storage_timeout_seconds,
            "socket_connect_timeout": config.storage_timeout_seconds,
        }
    # wrap_exceptions: every backend's failures arrive as limits.errors.StorageError.
    storage = storage_from_string(config.storage_uri, wrap_exceptions=True, **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"rate limit storage must be synchronous, not {config.storage_uri.split(':')[0]!r}")
    return storage
