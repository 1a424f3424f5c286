"""Read side of the job domain: filtered, cursor-paginated job lists and request summaries."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.errors import InvalidRequest, NotFound
from app.job.models import Job, ReprotectRequest
from app.job.states import JobState


@dataclass(frozen=True)
class JobFilter:
    """What ``GET /jobs`` can filter on."""

    state: JobState | None = None
    vault_id: str | None = None
    vm: str | None = None
    request_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def encode_cursor(job: Job) -> str:
    """An opaque cursor after ``job`` in newest-first order."""
    raw = json.dumps([job.created_at.isoformat(), str(job.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Parse a cursor made by :func:`encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = json.loads(raw)
        at = datetime.fromisoformat(created)
        if at.tzinfo is None:
            raise ValueError("naive timestamp")
        return at, uuid.UUID(job_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidRequest("The cursor is not one this service gave out.", code="invalid_cursor") from exc


def list_jobs(session: Session, *, where: JobFilter, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
    """Jobs matching ``where``, newest first, one page at a time."""
    query = select(Job).options(selectinload(Job.transitions))
    if where.state is not None:
        query = query.where(Job.state == where.state.value)
    if where.vault_id:
        query = query.where(func.lower(Job.vault_id) == where.vault_id.lower())
    if where.vm:
        wanted = where.vm.lower()
        query = query.where(or_(func.lower(Job.vm_name) == wanted, func.lower(Job.item_id) == wanted))
    if where.request_id is not None:
        query = query.where(Job.request_id == where.request_id)
    if where.created_after is not None:
        query = query.where(Job.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(Job.created_at < where.created_before)
    if cursor:
        created, job_id = decode_cursor(cursor)
        query = query.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
    rows = list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    return page, encode_cursor(page[-1]) if len(rows) > limit else None


def get_request(session: Session, request_id: uuid.UUID) -> ReprotectRequest:
    """A reprotect request with its jobs, or ``NotFound``."""
    request = session.scalars(
        select(ReprotectRequest)
        .where(ReprotectRequest.id == request_id)
        .options(selectinload(ReprotectRequest.jobs).selectinload(Job.transitions))
    ).one_or_none()
    if request is None:
        raise NotFound(f"No reprotect request {request_id}.", code="request_not_found")
    return request


def count_by_state(jobs: list[Job]) -> dict[str, int]:
    """How many of ``jobs`` are in each state (every state listed, zeros included)."""
    counts = {state.value: 0 for state in JobState}
    for job in jobs:
        counts[job.state] += 1
    return counts
