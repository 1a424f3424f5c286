"""``/jobs``: one VM's reprotect as dashboards poll it, lists, cancel and retry."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.api.deps import ContainerDep, IsoDateTime
from app.api.problems import documented
from app.api.security import Operator, Reader
from app.job import service
from app.job.queries import JobFilter
from app.job.schemas import JobOut, JobPage
from app.job.states import JobState

router = APIRouter(tags=["jobs"])


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
    read = service.get_job(container, principal=principal, job_id=job_id, if_none_match=if_none_match)
    headers = {"ETag": read.etag, **({"Retry-After": read.retry_after} if read.retry_after else {})}
    if read.job is None:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return read.job


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
    where = JobFilter(
        state=state,
        vault_id=vault_id,
        vm=vm,
        request_id=request_id,
        created_after=created_after,
        created_before=created_before,
    )
    return service.list_jobs(container, principal=principal, where=where, limit=limit, cursor=cursor)


@router.post(
    "/jobs/{job_id}/cancel",
    operation_id="cancelJob",
    status_code=202,
    response_model=JobOut,
    responses=documented(401, 403, 404, 409, 422, 429, 503),
)
def cancel_job(job_id: uuid.UUID, request: Request, container: ContainerDep, principal: Operator) -> JobOut:
    """Cancel a job: at once before submission; through Azure while the ASR job still allows it."""
    request.state.audit_vms = []
    return service.cancel(container, principal=principal, job_id=job_id, touched=request.state.audit_vms)


@router.post(
    "/jobs/{job_id}/retry",
    operation_id="retryJob",
    status_code=202,
    response_model=JobOut,
    responses=documented(401, 403, 404, 409, 422, 429),
)
def retry_job(job_id: uuid.UUID, request: Request, container: ContainerDep, principal: Operator) -> JobOut:
    """Run a failed job again from where it failed, as a new attempt."""
    request.state.audit_vms = []
    return service.retry(container, principal=principal, job_id=job_id, touched=request.state.audit_vms)
