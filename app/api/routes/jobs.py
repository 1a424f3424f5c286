"""``/jobs``: one VM's reprotect as dashboards poll it, lists, the summary, cancel and retry."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.api import offload
from app.api.coalesce import shared
from app.api.deps import ContainerDep, IsoDateTime
from app.api.problems import documented
from app.api.security import Operator, Reader
from app.bootstrap import Container
from app.job import reads, service, summary
from app.job.kinds import JobKind
from app.job.queries import JobFilter
from app.job.reads import View
from app.job.schemas import JobOut, JobPage, JobSummary
from app.job.states import JobState
from app.job.summary import GroupBy, SummaryFilter
from app.read_pool import AsyncReadPool

router = APIRouter(tags=["jobs"])


@router.get(
    "/jobs/summary",
    operation_id="summariseJobs",
    response_model=JobSummary,
    responses=documented(401, 403, 422, 429),
)
async def summarise_jobs(
    request: Request,
    container: ContainerDep,
    principal: Reader,
    group_by: Annotated[
        GroupBy, Query(description="count per vault, subscription or request (without request_id: the 100 newest)")
    ] = "none",
    request_id: Annotated[
        list[uuid.UUID] | None, Query(max_length=100, description="one or more requests (repeat the parameter)")
    ] = None,
    vault_id: Annotated[str | None, Query(max_length=400)] = None,
    subscription_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Counts per job state (grouped as asked), the fleet's ETA and the top failure codes, in your scopes."""
    where = SummaryFilter(request_ids=tuple(request_id or ()), vault_id=vault_id, subscription_id=subscription_id)
    body = await shared(
        request.app.state,
        "/jobs/summary",
        (principal.scopes, where, group_by),
        lambda: offload.read(
            container, summary.summarise, container.sessions, principal=principal, where=where, group_by=group_by
        ),
    )
    return Response(body, media_type="application/json")  # serialised once (a Response: not validated again)


@router.get(
    "/jobs/{job_id}",
    operation_id="getJob",
    response_model=JobOut,
    responses={304: {"description": "Not modified"}, **documented(401, 403, 404, 422, 429)},
)
async def get_job(
    request: Request,
    job_id: uuid.UUID,
    principal: Reader,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """State, steps, mirrored ASR tasks, resync progress, ETA, error and history of one job."""
    container: Container = request.app.state.container  # not a dependency: each costs a hot read ~5 %
    poll_hint = str(max(1, round(container.settings.job.poll_interval_seconds)))
    pool: AsyncReadPool | None = request.app.state.read_pool
    read = None
    if pool is not None:
        read = await reads.read_job_async(
            pool, principal=principal, job_id=job_id, if_none_match=if_none_match, poll_hint=poll_hint
        )
    if read is None:  # SQLite, or the pool's connection broke: the threaded read (it reconnects)
        read = await offload.read(
            container,
            reads.read_job,
            container.sessions,
            principal=principal,
            job_id=job_id,
            if_none_match=if_none_match,
            poll_hint=poll_hint,
        )
    headers = {"ETag": read.etag, **({"Retry-After": read.retry_after} if read.retry_after else {})}
    if read.body is None:
        return Response(status_code=304, headers=headers)
    return Response(read.body, media_type="application/json", headers=headers)


@router.get("/jobs", operation_id="listJobs", response_model=JobPage, responses=documented(401, 403, 422, 429))
async def list_jobs(
    request: Request,
    container: ContainerDep,
    principal: Reader,
    state: JobState | None = None,
    kind: Annotated[JobKind | None, Query(description="what the jobs do: reprotect, drill, failover, ...")] = None,
    vault_id: Annotated[str | None, Query(max_length=400)] = None,
    subscription_id: Annotated[str | None, Query(max_length=64)] = None,
    vm: Annotated[str | None, Query(max_length=800, description="VM name or item id")] = None,
    request_id: uuid.UUID | None = None,
    error_code: Annotated[str | None, Query(max_length=100, description="failed jobs with this error code")] = None,
    created_after: IsoDateTime | None = None,
    created_before: IsoDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    view: Annotated[
        View, Query(description="compact rows (default), or full: history, steps, ASR tasks, plan, customisation")
    ] = "compact",
) -> Response:
    """Jobs, newest first, filtered; follow ``next_cursor`` for the next page."""
    where = JobFilter(
        state=state,
        kind=kind,
        vault_id=vault_id,
        subscription_id=subscription_id,
        vm=vm,
        request_id=request_id,
        error_code=error_code,
        created_after=created_after,
        created_before=created_before,
    )
    pool: AsyncReadPool | None = request.app.state.read_pool

    async def read() -> bytes:
        body = None
        if pool is not None:
            body = await reads.list_page_async(
                pool, principal=principal, where=where, limit=limit, cursor=cursor, view=view
            )
        if body is None:  # SQLite, the full view, or the pool's connection broke: the threaded read
            body = await offload.read(
                container,
                reads.list_page,
                container.sessions,
                principal=principal,
                where=where,
                limit=limit,
                cursor=cursor,
                view=view,
            )
        return body

    body = await shared(request.app.state, "/jobs", (principal.scopes, where, limit, cursor, view), read)
    return Response(body, media_type="application/json")


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
