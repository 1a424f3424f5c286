"""The audit trail: one row per mutating call and per refusal for lack of rights; filtered reads."""

from __future__ import annotations

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
