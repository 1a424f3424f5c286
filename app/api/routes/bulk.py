"""``POST /jobs:retry`` and ``POST /jobs:cancel``: retry or cancel every job a filter matches, each by its own rules.

Custom-method paths (``/jobs:retry``, as in Google's AIP-136) cannot clash with ``/jobs/{job_id}/...``: they
have no ``/`` after ``jobs``. Each job acted on gets its own audit entry (route ``/jobs:retry``, path of the
single-job call it stands for, that call's status), next to the request's own entry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.deps import ContainerDep
from app.api.problems import documented, render_service_error
from app.api.security import Operator
from app.auth import service as auth_service
from app.auth.principal import Principal
from app.bootstrap import Container
from app.db import utcnow
from app.errors import ServiceError
from app.job import bulk
from app.job.bulk_schemas import BulkActionIn, BulkActionOut, BulkJobOut, JobProblem, Outcome

router = APIRouter(tags=["jobs"])
log = logging.getLogger(__name__)
DryRun = Annotated[bool, Query(description="Only say what would happen to each matched job; change nothing.")]
ANSWERS = documented(400, 401, 403, 413, 422, 429)


@router.post("/jobs:retry", operation_id="retryJobs", response_model=BulkActionOut, responses=ANSWERS)
def retry_jobs(
    body: BulkActionIn, request: Request, container: ContainerDep, principal: Operator, dry_run: DryRun = False
) -> BulkActionOut:
    """Retry every failed job the filter matches (at most ``max_count``); each job's outcome or refusal."""
    record = _auditor(container, request, principal, action="retry")
    run = bulk.retry_matching(container, principal=principal, body=body, dry_run=dry_run, record=record)
    return render(run)


@router.post("/jobs:cancel", operation_id="cancelJobs", response_model=BulkActionOut, responses=ANSWERS)
def cancel_jobs(
    body: BulkActionIn, request: Request, container: ContainerDep, principal: Operator, dry_run: DryRun = False
) -> BulkActionOut:
    """Cancel every active job the filter matches (at most ``max_count``); each job's outcome or refusal."""
    record = _auditor(container, request, principal, action="cancel")
    run = bulk.cancel_matching(container, principal=principal, body=body, dry_run=dry_run, record=record)
    return render(run)


def render(run: bulk.BulkRun) -> BulkActionOut:
    """The answer: every job's outcome (a refusal as the single-job call's problem) and counts per outcome."""
    jobs = [_job_out(result) for result in run.results]
    counts = dict.fromkeys(Outcome, 0)
    for job in jobs:
        counts[job.outcome] += 1
    return BulkActionOut(
        action=run.action,
        dry_run=run.dry_run,
        filter=run.selector,
        max_count=run.max_count,
        matched=len(jobs),
        counts=counts,
        jobs=jobs,
    )


def _job_out(result: bulk.JobResult) -> BulkJobOut:
    problem = _problem(result.error) if result.error else None
    outcome = result.outcome
    if outcome is None:  # an error from the single-job call: its 4xx refuses, its 5xx failed
        outcome = Outcome.REFUSED if problem and problem.status < 500 else Outcome.FAILED
    job = result.job
    return BulkJobOut(
        id=job.id,
        href=f"/jobs/{job.id}",
        vm=job.vm,
        vault_id=job.vault_id,
        state=job.state,
        error_code=job.error_code,
        outcome=outcome,
        detail=result.detail,
        state_after=result.state_after,
        problem=problem,
    )


def _problem(error: ServiceError) -> JobProblem:
    answer = json.loads(bytes(render_service_error(error).body))
    return JobProblem(status=answer["status"], code=answer["code"], detail=answer["detail"])


def _auditor(
    container: Container, request: Request, principal: Principal, *, action: bulk.Action
) -> Callable[[bulk.JobResult], None]:
    """One audit entry per job acted on, as its single-job call would have written it, under this route."""

    def record(result: bulk.JobResult) -> None:
        status = _problem(result.error).status if result.error else 202
        try:
            auth_service.record_audit(
                container.sessions,
                at=utcnow(),
                request_id=str(request.state.request_id),
                principal=principal,
                method="POST",
                route=f"/jobs:{action}",
                path=f"/jobs/{result.job.id}/{action}",
                status=status,
                vm_ids=[result.job.item_id],
            )
        except Exception:  # as the request's own entry (app.api.context): the action stands, the gap is logged
            log.exception(
                "could not write the audit entry of job %s (request %s)", result.job.id, request.state.request_id
            )

    return record
