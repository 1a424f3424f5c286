"""``/reprotect``: check and accept a batch of VMs (or only plan them), and read a request back."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import CloudDep, ContainerDep
from app.api.problems import documented
from app.db import transaction, utcnow
from app.job import queries, service
from app.job.present import job_href, request_out
from app.job.schemas import DryRunOut, JobLink, ReprotectAccepted, ReprotectIn, RequestOut
from app.job.states import JobState
from app.webhooks.service import vet_url

router = APIRouter(tags=["reprotect"])


@router.post(
    "/reprotect",
    operation_id="reprotect",
    status_code=202,
    response_model=ReprotectAccepted | DryRunOut,
    responses={200: {"model": DryRunOut, "description": "Dry run: the plan per VM"}, **documented(409, 413, 422, 503)},
)
def reprotect(
    body: ReprotectIn,
    response: Response,
    container: ContainerDep,
    cloud: CloudDep,
    dry_run: Annotated[bool, Query(description="Check and plan only; submit nothing.")] = False,
) -> ReprotectAccepted | DryRunOut:
    """Reprotect 1-100 failed-over VMs; every prerequisite is checked before anything is accepted."""
    settings = container.settings
    if body.callback_url:
        vet_url(body.callback_url, settings.webhook, field="callback_url")
    plans = service.check_all(cloud=cloud, targets=body.vms, concurrency=settings.azure.validation_concurrency)
    if dry_run:
        response.status_code = 200
        return DryRunOut(plans=plans)
    with transaction(container.sessions) as session:
        request = service.create_request(
            session,
            targets=body.vms,
            plans=plans,
            settings=settings.job,
            requested_by=None,
            now=utcnow(),
            callback_url=body.callback_url,
        )
        jobs = [
            JobLink(
                id=j.id,
                vm=j.vm_name,
                vault_id=j.vault_id,
                item_id=j.item_id,
                state=JobState(j.state),
                href=job_href(j.id),
            )
            for j in request.jobs
        ]
    container.doorbell.ring(job.id for job in jobs)  # after commit: a worker must find the rows
    href = f"/reprotect/{request.id}"
    response.headers["Location"] = href
    response.headers["Retry-After"] = str(max(1, round(settings.job.poll_interval_seconds)))
    return ReprotectAccepted(request_id=request.id, href=href, jobs=jobs, callback_secret=request.callback_secret)


@router.get(
    "/reprotect/{request_id}",
    operation_id="getReprotectRequest",
    response_model=RequestOut,
    responses=documented(404, 422),
)
def get_request(request_id: uuid.UUID, container: ContainerDep) -> RequestOut:
    """A reprotect request: counts per state and every job."""
    with transaction(container.sessions) as session:
        return request_out(queries.get_request(session, request_id))
