"""``/jobs``: one VM's reprotect as dashboards poll it, lists, cancel and retry."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.api.deps import CloudDep, ContainerDep, IsoDateTime
from app.api.problems import documented
from app.api.security import Operator, Reader
from app.auth import visibility
from app.auth.visibility import vault_visible
from app.db import transaction, utcnow
from app.job import queries, service
from app.job.models import Job
from app.job.present import etag_of, job_out
from app.job.schemas import JobOut, JobPage
from app.job.states import JobState, is_terminal

router = APIRouter(tags=["jobs"])


def _retry_after(container: ContainerDep, state: JobState) -> dict[str, str]:
    if is_terminal(state):
        return {}
    return {"Retry-After": str(max(1, round(container.settings.job.poll_interval_seconds)))}


@router.get(
    "/jobs/{job_id}",
    operation_id="getJob",
    response_model=JobOut,
    responses={304: {"description": "Not modified"}, **documented(401, 403, 404, 422, 429)},
)
def get_job(
    job_id: uuid.UUID,
    response: Response,
    container: ContainerDep,
    principal: Reader,
    if_none_match: Annotated[str | None, Header()] = None,
) -> JobOut | Response:
    """State, steps, mirrored ASR tasks, resync progress, ETA, error and history of one job."""
    with transaction(container.sessions) as session:
        job = visibility.visible_job(session, job_id, principal)
        etag = etag_of(job)
        headers = {"ETag": etag, **_retry_after(container, job.job_state)}
        if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Response(status_code=304, headers=headers)
        response.headers.update(headers)
        return job_out(job)


@router.get("/jobs", operation_id="listJobs", response_model=JobPage, responses=documented(401, 403, 422, 429))
def list_jobs(
    container: ContainerDep,
    principal: Reader,
    state: JobState | None = None,
    vault_id: Annotated[str | None, Query(max_length=400)] = None,
    vm: Annotated[str | None, Query(max_length=800, description="VM name or item id")] = None,
    request_id: uuid.UUID | None = None,
    created_after: IsoDateTime | None = None,
    created_before: IsoDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    """Jobs, newest first, filtered; follow ``next_cursor`` for the next page."""
    where = queries.JobFilter(
        state=state,
        vault_id=vault_id,
        vm=vm,
        request_id=request_id,
        created_after=created_after,
        created_before=created_before,
    )
    with transaction(container.sessions) as session:
        jobs, next_cursor = queries.list_jobs(
            session, where=where, limit=limit, cursor=cursor, visible=vault_visible(Job.vault_id, principal.scopes)
        )
        return JobPage(items=[job_out(j) for j in jobs], next_cursor=next_cursor)


@router.post(
    "/jobs/{job_id}/cancel",
    operation_id="cancelJob",
    status_code=202,
    response_model=JobOut,
    responses=documented(401, 403, 404, 409, 422, 429, 503),
)
def cancel_job(
    job_id: uuid.UUID, request: Request, container: ContainerDep, cloud: CloudDep, principal: Operator
) -> JobOut:
    """Cancel a job: at once before submission; through Azure while the ASR job still allows it."""
    with transaction(container.sessions) as session:
        job = visibility.visible_job(session, job_id, principal)
        request.state.audit_vms = [job.item_id]
        decided = service.cancel(session, cloud=cloud, job_id=job_id, now=utcnow(), actor=principal.id)
        if not isinstance(decided, service.AzureCancel):
            return job_out(decided)  # cancelled on our side alone: terminal, nothing to ring for
    service.cancel_in_azure(cloud=cloud, order=decided)  # Azure calls happen outside any transaction
    with transaction(container.sessions) as session:
        out = job_out(service.note_cancel_requested(session, job_id=job_id, now=utcnow(), actor=principal.id))
    if not out.terminal:
        container.doorbell.ring([job_id])
    return out


@router.post(
    "/jobs/{job_id}/retry",
    operation_id="retryJob",
    status_code=202,
    response_model=JobOut,
    responses=documented(401, 403, 404, 409, 422, 429),
)
def retry_job(job_id: uuid.UUID, request: Request, container: ContainerDep, principal: Operator) -> JobOut:
    """Run a failed job again from where it failed, as a new attempt."""
    with transaction(container.sessions) as session:
        request.state.audit_vms = [visibility.visible_job(session, job_id, principal).item_id]
        job = service.retry(session, job_id=job_id, settings=container.settings.job, now=utcnow(), actor=principal.id)
        out = job_out(job)
    container.doorbell.ring([job_id])
    return out
