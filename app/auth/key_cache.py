"""A short in-process cache of API key lookups, so a dashboard's every poll does not read its key.

An entry holds the principal, the key's expiry and the revocation epoch read *before* the lookup that
filled it (``app.auth.revocation``); it is used only while that epoch is current (no key was revoked
anywhere since), its time to live has not passed and the key has not expired. Only successes are kept.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from app.auth.principal import Principal
from app.db import utcnow

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    epoch: int
    until: float
    expires_at: datetime | None


class KeyCache:
    """Principals by the hash of the presented key."""

    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def get(self, credential: str, *, epoch: int) -> Principal | None:
        """The cached principal of ``credential`` if still good under ``epoch``."""
        entry = self._entries.get(_digest(credential))
        if entry is None or entry.epoch != epoch or self._clock() >= entry.until:
            return None
        if entry.expires_at is not None and entry.expires_at <= utcnow():
            return None
        return entry.principal

    def put(self, credential: str, principal: Principal, *, epoch: int, expires_at: datetime | None) -> None:
        """Remember a successful lookup made under ``epoch``."""
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # crude but bounded: a flood of distinct keys cannot grow the process
        self._entries[_digest(credential)] = _Entry(principal, epoch, self._clock() + self._ttl, expires_at)


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()
