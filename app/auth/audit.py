"""The audit trail: one row per mutating call and per refusal for lack of rights; filtered reads."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import AuditEntry
from app.pagination import page

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def outcome_of(status: int) -> str:
    """How the audit names an HTTP status."""
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "rate_limited"
    if status < 400:
        return "succeeded"
    return "refused" if status < 500 else "failed"


def should_record(method: str, status: int) -> bool:
    """Every mutating call, and every refusal for lack of rights whatever the method."""
    return method in MUTATING or status in (401, 403)


class RefusalSummary:
    """Refusals of callers without a valid credential (401s, and the 429s of an address over its limit
    of refused credentials) are audited once per client address and window, not once per request: a
    flood writes one row per source per minute. The row after a window names how many were folded into
    the previous one. Per process (several API processes: one row per source, window and process)."""

    def __init__(self, window_seconds: float = 60.0, *, max_sources: int = 10_000, clock: Any = time.monotonic):
        self._window = window_seconds
        self._max_sources = max_sources
        self._clock = clock
        self._sources: dict[str, tuple[float, int]] = {}  # source -> (window start, refusals folded since)
        self._lock = threading.Lock()

    def admit(self, source: str) -> dict[str, Any] | None:
        """The detail of the audit row to write for this refusal, or None when it is folded into the
        window's row already written."""
        now = self._clock()
        with self._lock:
            started, folded = self._sources.get(source, (-math.inf, 0))
            if now - started < self._window:
                self._sources[source] = (started, folded + 1)
                return None
            if len(self._sources) >= self._max_sources:  # forget the oldest windows, never grow unbounded
                for stale in sorted(self._sources, key=lambda s: self._sources[s][0])[: self._max_sources // 10]:
                    del self._sources[stale]
            self._sources[source] = (now, 0)
        return {"source": source, "window_seconds": self._window, "folded_into_previous_row": folded}


@dataclass(frozen=True)
class AuditFilter:
    """What ``GET /audit`` can filter on."""

    principal_id: str | None = None
    outcome: str | None = None
    method: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def record(session: Session, **fields: Any) -> None:
    """Append one entry."""
    session.add(AuditEntry(**fields))


def list_entries(
    session: Session, *, where: AuditFilter, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """Entries, newest first."""
    query = select(AuditEntry)
    if where.principal_id:
        query = query.where(AuditEntry.principal_id == where.principal_id)
    if where.outcome:
        query = query.where(AuditEntry.outcome == where.outcome)
    if where.method:
        query = query.where(AuditEntry.method == where.method.upper())
    if where.since:
        query = query.where(AuditEntry.at >= where.since)
    if where.until:
        query = query.where(AuditEntry.at < where.until)
    return page(session, query, created=AuditEntry.at, key=AuditEntry.id, limit=limit, cursor=cursor)
