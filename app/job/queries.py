"""Read side of the job domain: what GET /jobs filters on, one job or request by id, counts by state (the
list statements themselves are built once in ``app.job.statements``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFound
from app.job.kinds import JobKind
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
    error_code: str | None = None
    subscription_id: str | None = None
    kind: JobKind | None = None


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
