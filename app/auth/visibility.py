"""What a principal may see: rows outside its scopes do not exist for it (404, never 403).

Jobs are placed by their vault id; a request is visible when every one of its jobs is; webhook
deliveries follow their request; an endpoint is visible when all of its scopes lie inside the caller's.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.scopes import ScopeSet, parse_scope
from app.errors import Forbidden, NotFound
from app.job.models import Job, ReprotectRequest


def vault_visible(column: Any, scopes: ScopeSet) -> ColumnElement[bool]:
    """SQL: the row's vault id lies inside ``scopes`` (false for an empty set)."""
    if scopes.is_unrestricted:
        return true()
    prefixes = scopes.prefixes()
    if not prefixes:
        return false()
    placed = func.lower(column) + "/"
    return or_(*(placed.startswith(prefix, autoescape=True) for prefix in prefixes))


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


def require_in_scope(principal: Principal, resource_ids: list[str]) -> None:
    """403 naming every resource (VM, vault) outside the caller's scopes."""
    outside = [rid for rid in resource_ids if not principal.scopes.covers(rid)]
    if outside:
        raise Forbidden(
            f"{len(outside)} of the named VMs lie outside your scopes ({', '.join(principal.scopes.as_strings())}).",
            code="outside_scope",
            details={"outside_scope": outside},
        )


def scopes_within(inner: list[str], principal: Principal) -> bool:
    """Whether every scope of ``inner`` lies inside the caller's scopes (``*`` only inside ``*``)."""
    if principal.scopes.is_unrestricted:
        return True
    for text in inner:
        scope = parse_scope(text)
        if scope.is_everything or not principal.scopes.covers(str(scope)):
            return False
    return True
