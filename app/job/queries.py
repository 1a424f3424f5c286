"""Read side of the job domain: filtered, cursor-paginated job lists and request summaries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFound
from app.job.models import Job, ReprotectRequest
from app.job.states import JobState
from app.pagination import page


@dataclass(frozen=True)
class JobFilter:
    """What ``GET /jobs`` can filter on."""

    state: JobState | None = None
    vault_id: str | None = None
    vm: str | None = None
    request_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    error_code: str | None = None
    subscription_id: str | None = None


def list_jobs(
    session: Session, *, where: JobFilter, limit: int, cursor: str | None, visible: ColumnElement[bool] | None = None
) -> tuple[list[Job], str | None]:
    """Jobs matching ``where`` (and ``visible``, the caller's scopes), newest first, one page at a time."""
    query = select(Job).options(selectinload(Job.transitions))
    query = filtered(query, where, visible) if visible is not None else filtered(query, where, true())
    return page(session, query, created=Job.created_at, key=Job.id, limit=limit, cursor=cursor)


def get_job(session: Session, job_id: uuid.UUID) -> Job:
    """A job by id, or ``NotFound``."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.", code="job_not_found")
    return job


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


def filtered(query: Select[Any], where: JobFilter, visible: ColumnElement[bool]) -> Select[Any]:
    """``query`` narrowed to ``where`` and ``visible``; each filter matches an index of migration 0007."""
    query = query.where(visible)
    if where.state is not None:
        query = query.where(Job.state == where.state.value)
    if where.vault_id:
        query = query.where(func.lower(Job.vault_id) == where.vault_id.lower())
    if where.subscription_id:
        query = query.where(func.lower(Job.subscription_id) == where.subscription_id.lower())
    if where.vm:
        wanted = where.vm.lower()
        query = query.where(or_(func.lower(Job.vm_name) == wanted, func.lower(Job.item_id) == wanted))
    if where.request_id is not None:
        query = query.where(Job.request_id == where.request_id)
    if where.error_code:
        query = query.where(Job.error_code == where.error_code)
    if where.created_after is not None:
        query = query.where(Job.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(Job.created_at < where.created_before)
    return query
