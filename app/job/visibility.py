"""Which jobs and requests a principal may see: a job by its vault id; a request when all its jobs are."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, exists, not_, select, true
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.visibility import vault_visible
from app.errors import NotFound
from app.job.models import Job, ReprotectRequest
from app.scopes import ScopeSet


def request_visible(request_id: Any, scopes: ScopeSet) -> ColumnElement[bool]:
    """SQL: no job of the request lies outside ``scopes``."""
    if scopes.is_unrestricted:
        return true()
    outside = select(Job.id).where(Job.request_id == request_id, not_(vault_visible(Job.vault_id, scopes)))
    return not_(exists(outside))


def visible_job(session: Session, job_id: uuid.UUID, principal: Principal) -> Job:
    """The job if the caller may see it; otherwise exactly the answer for a job that does not exist."""
    job = session.get(Job, job_id)
    if job is None or not principal.scopes.covers(job.vault_id):
        raise NotFound(f"No job {job_id}.", code="job_not_found")
    return job


def check_request(session: Session, request_id: uuid.UUID, principal: Principal) -> None:
    """404 unless the request exists and all its jobs are in the caller's scopes."""
    seen = session.scalar(
        select(ReprotectRequest.id).where(
            ReprotectRequest.id == request_id, request_visible(ReprotectRequest.id, principal.scopes)
        )
    )
    if seen is None:
        raise NotFound(f"No reprotect request {request_id}.", code="request_not_found")
